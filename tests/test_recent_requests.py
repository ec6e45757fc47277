"""The requests a client may report on: bounded the same in memory and in Redis, and with REDIS_URL a report is
taken by any process, whichever one read the captcha."""

import time

import pytest

from captcha_service import create_app
from captcha_service.api.auth import key_owner
from captcha_service.api.recent import RecentRequests
from captcha_service.api.redis_recent import RedisRecentRequests
from captcha_service.api.reports import OWNER_IN_FILE_NAMES
from captcha_service.shared import connect
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


@pytest.fixture(params=["memory", "redis"])
def recent_requests(request):
    """make(count, seconds, max_bytes, keep_images, clock): a store of each kind."""
    if request.param == "memory":
        yield RecentRequests
        return
    client = connect(request.getfixturevalue("redis_server").url)
    yield lambda *bounds, **options: RedisRecentRequests(client, *bounds, **options)
    client.close()


def test_recent_requests_are_bounded_by_count_age_and_bytes(recent_requests):
    now = [1000.0]
    recent = recent_requests(3, 60, 250, keep_images=True, clock=lambda: now[0])
    for index in range(4):
        recent.remember("", f"r{index}", b"x" * 100, None, "1234")
    assert (
        recent.get("", "r0") is None and recent.get("", "r1") is None
    )  # r0 over the count; r1 over the bytes (3 x 100 > 250)
    assert recent.get("", "r3").model == "general" and recent.get("", "r3").image == b"x" * 100
    # a taken id is never replaced: the read gets another, and the first keeps its image
    assert recent.remember("", "r3", b"y" * 10, None, "5678") != "r3"
    assert recent.get("", "r3").digits == "1234" and recent.get("", "r3").request_id == "r3"
    assert recent.get("other", "r3") is None  # another client's
    now[0] += 61
    assert recent.get("", "r3") is None
    # an id used again once its request is forgotten is the new request's, whatever its size, every time
    for size in (10, 20, 10, 30):
        now[0] += 61
        assert recent.remember("", "login", b"z" * size, None, "1111") == "login"
        assert recent.get("", "login").image == b"z" * size
        assert recent.remember("", f"other-{size}", b"w" * 100, None, "2222") == f"other-{size}"
        assert recent.get("", "login") is not None and recent.get("", f"other-{size}") is not None
    without_images = recent_requests(3, 60, 250, keep_images=False)
    without_images.remember("", "r", b"x" * 100, "shop", None)
    assert without_images.get("", "r").image is None and without_images.get("", "r").model == "shop"
    assert without_images.get("", "r").digits is None


def test_keys_redis_lost_under_the_store_do_not_stop_it_remembering(redis_server):
    client = connect(redis_server.url)
    recent = RedisRecentRequests(client, 3, 60, 250, keep_images=True)
    for index in range(3):
        recent.remember("", f"r{index}", b"x" * 80, None, "1234")
    client.delete("{captcha-ocr}:recent", "{captcha-ocr}:recent-sizes")  # evicted, or cleaned up by hand
    for index in range(5):  # the sum of bytes left behind was 240 of 250: nothing new was kept
        recent.remember("", f"s{index}", b"y" * 80, None, "5678")
        assert recent.get("", f"s{index}") is not None
    client.close()


def test_a_report_on_a_read_forgotten_while_it_was_being_reported_is_counted(recent_requests):
    recent = recent_requests(1, 60, 1000, keep_images=True)
    recent.remember("", "r", b"x", None, "1234")
    reported = recent.get("", "r")
    recent.remember("", "s", b"y", None, "5678")  # pushes r out (SAMPLES_KEPT=1)
    assert recent.first_report(reported)  # in Redis it was not, and the solver protocols counted nothing at all
    assert recent.first_report(recent.get("", "s")) and not recent.first_report(recent.get("", "s"))


@pytest.fixture
def processes(redis_server, tmp_path):
    """Two apps sharing one Redis and one SAMPLES_DIR, as two processes behind a balancer are; each mounts the
    folder at a place of its own."""
    (tmp_path / "samples").mkdir()
    apps = []
    for place in ("here", "there"):
        (tmp_path / place).symlink_to(tmp_path / "samples")
        apps.append(create_app({"REDIS_URL": redis_server.url, "SAMPLES_DIR": str(tmp_path / place)}))
    yield [app.test_client() for app in apps], tmp_path / "samples"
    for app in apps:
        app.extensions["captcha_ocr_tasks"].client.close()


def test_a_report_is_taken_by_a_process_that_did_not_read_the_captcha(processes):
    (first, second), samples = processes
    read = first.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": "run-1"})
    assert read.json["number"] == int(label_of(CAPTCHA))
    confirmed = second.post("/ocr/report", json={"request_id": "run-1", "correct": True})
    assert confirmed.status_code == 200 and confirmed.json["counted"] and confirmed.json["verdict"] == "right"
    assert (samples / confirmed.json["sample"]).read_bytes() == CAPTCHA.read_bytes()
    # relabelled by the first process: the file the second wrote goes, and the report is not counted twice
    relabelled = first.post("/ocr/report", json={"request_id": "run-1", "digits": "9999"})
    assert relabelled.json["counted"] is False and relabelled.json["verdict"] == "wrong"
    assert sorted(path.name for path in samples.rglob("*.*")) == ["run-1_9999.jpg"]
    # called wrong with no digits: a sample labelled with our answer would go; one with the client's digits stays
    assert second.post("/ocr/report", json={"request_id": "run-1", "correct": False}).status_code == 200
    assert sorted(path.name for path in samples.rglob("*.*")) == ["run-1_9999.jpg"]
    first.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": "run-2"})
    assert second.post("/ocr/report", json={"request_id": "run-2", "correct": True}).json["sample"]
    assert first.post("/ocr/report", json={"request_id": "run-2", "correct": False}).json["sample"] is None
    assert sorted(path.name for path in samples.rglob("*.*")) == ["run-1_9999.jpg"]


def test_a_solver_protocols_report_to_another_process_labels_the_image(processes):
    (first, second), samples = processes
    created = first.post(
        "/createTask", json={"clientKey": "k", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    )
    assert created.json["solution"]["text"] == label_of(CAPTCHA)
    assert second.post("/reportCorrect", json={"clientKey": "k", "taskId": created.json["taskId"]}).json == {
        "errorId": 0,
        "status": "success",
    }
    request_id = created.headers["X-Request-ID"]
    client_part = key_owner("k")[:OWNER_IN_FILE_NAMES]
    assert (samples / "general" / f"{client_part}-{request_id}_{label_of(CAPTCHA)}.jpg").exists()


def test_redis_lost_reads_go_on_and_a_report_is_a_quick_json_503(processes, redis_server):
    (first, _second), samples = processes
    redis_server.stop()
    started = time.monotonic()
    read = first.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": "lost-1"})
    assert read.json["number"] == int(label_of(CAPTCHA))
    reported = first.post("/ocr/report", json={"request_id": "lost-1", "correct": True})
    assert reported.status_code == 503 and reported.headers["Retry-After"] == "1"
    assert "report again" in reported.json["detail"]
    assert time.monotonic() - started < 3
    redis_server.start()
    first.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": "back-1"})
    assert first.post("/ocr/report", json={"request_id": "back-1", "correct": True}).json["sample"]
    assert not list(samples.rglob("lost-1*"))


def test_a_report_on_a_read_whose_process_kept_no_image_says_so_and_writes_nothing(processes, redis_server):
    (_first, second), samples = processes
    without_samples = create_app({"REDIS_URL": redis_server.url})  # a process not yet given SAMPLES_DIR
    read = without_samples.test_client().post(
        "/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": "mix-1"}
    )
    assert read.status_code == 200
    reported = second.post("/ocr/report", json={"request_id": "mix-1", "correct": True}).json
    assert reported["counted"] and reported["sample"] is None and "no SAMPLES_DIR" in reported["not_kept"]
    assert not list(samples.rglob("*.*"))  # it wrote an empty file, which finetune skipped
    without_samples.extensions["captcha_ocr_tasks"].client.close()


@pytest.mark.parametrize("request_id", ["\ud800", "a" * 129, "a b"])
def test_a_report_on_an_id_we_never_answer_with_is_a_404(processes, request_id):
    (first, _second), _samples = processes
    reported = first.post("/ocr/report", json={"request_id": request_id, "correct": True})
    assert reported.status_code == 404 and reported.json["detail"]  # a lone surrogate was a 500 in redis-py


def test_a_request_id_cannot_hold_another_requests_reports(processes):
    (first, second), samples = processes
    for request_id in ("lk", "lk:reporting"):  # the second's hash was the first's lock
        first.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}, headers={"X-Request-ID": request_id})
    for request_id in ("lk", "lk:reporting"):
        assert second.post("/ocr/report", json={"request_id": request_id, "correct": True}).status_code == 200
