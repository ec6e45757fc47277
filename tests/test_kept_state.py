"""What the service keeps, attacked as a hostile client or an unlucky operator would: samples, tasks, site models,
settings.

Each test replays one attack that worked on 1.3.0 (reliability round three) on the real models.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from captcha_service import create_app
from captcha_service.api.auth import key_owner
from captcha_service.api.reports import OWNER_IN_FILE_NAMES, STALE_PARTIAL_SECONDS, file_name_part, folder_bytes
from captcha_service.files import write_atomically
from captcha_service.ocr.confidence import SteadySignals
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.solver_protocols.tasks import TaskStore, task_store
from deploy.local_server import ROOT
from tests.captchas import CAPTCHA_FILES, UNFAMILIAR, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))
OTHER = next(path for path in CAPTCHA_FILES if path.name.startswith("captcha_py"))
GOOD_CARD = {"name": "shop", "calibration": {"weights": [1.0, 0.5, 2.0, 0.1], "bias": 0.0}}
assert len(GOOD_CARD["calibration"]["weights"]) == SteadySignals.count()


def read(client, path=CAPTCHA, **headers):
    return client.post("/ocr", json={"image_base64": base64_of(path)}, headers=headers)


def files_in(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("samples")


@pytest.fixture(scope="module")
def keeping(samples_dir):
    """An app with API keys that keeps samples."""
    return create_app({"SAMPLES_DIR": str(samples_dir), "API_KEYS": "key-a,key-b"})


@pytest.fixture(autouse=True)
def _empty_samples(samples_dir):
    yield
    shutil.rmtree(samples_dir)
    samples_dir.mkdir()


A, B = {"X-API-Key": "key-a"}, {"X-API-Key": "key-b"}


def report(client, headers, request_id, **fields):
    return client.post("/ocr/report", json={"request_id": request_id, **fields}, headers=headers)


# ---------------------------------------------------------------- samples


@pytest.mark.parametrize(
    "body",
    [{"image_base64": "bm90IGFuIGltYWdl"}, {"image_base64": base64_of(CAPTCHA), "model": "nowhere"}],
    ids=["not-an-image", "unknown-model"],
)
def test_what_is_refused_before_any_reading_is_neither_remembered_nor_kept(keeping, samples_dir, body):
    client = keeping.test_client()
    refused = client.post("/ocr", json=body, headers=A)
    assert refused.status_code == 422
    assert report(client, A, refused.headers["X-Request-ID"], digits="1234").status_code == 404
    assert files_in(samples_dir) == []  # no file, and no folder named after the unknown model


def test_a_captcha_refused_as_unfamiliar_is_kept_with_the_digits_reported(keeping, samples_dir):
    client = keeping.test_client()
    refused = read(client, UNFAMILIAR, **A)
    assert refused.status_code == 422 and refused.json["reason"] == "unfamiliar"
    reported = report(client, A, refused.headers["X-Request-ID"], digits=label_of(UNFAMILIAR))
    assert reported.status_code == 200 and reported.json["sample"]
    kept = [name for name in files_in(samples_dir) if name.endswith(".png")]
    assert len(kept) == 1 and (samples_dir / kept[0]).read_bytes() == UNFAMILIAR.read_bytes()
    assert label_of(UNFAMILIAR) in kept[0]


def test_reporting_one_request_again_and_again_keeps_one_file(keeping, samples_dir):
    client = keeping.test_client()
    request_id = read(client, **A).headers["X-Request-ID"]
    for digits in range(1000, 1300):
        assert report(client, A, request_id, digits=str(digits)).status_code == 200
    assert files_in(samples_dir) == [f"general/{key_owner('key-a')[:OWNER_IN_FILE_NAMES]}-{request_id}_1299.jpg"]


def test_two_keys_that_number_their_requests_alike_keep_each_its_own_sample(keeping, samples_dir):
    client = keeping.test_client()
    for headers, path in ((A, CAPTCHA), (B, OTHER)):
        assert read(client, path, **headers, **{"X-Request-ID": "run-1"}).headers["X-Request-ID"] == "run-1"
    samples = {
        path: report(client, headers, "run-1", digits=label_of(path)).json["sample"]
        for headers, path in ((A, CAPTCHA), (B, OTHER))
    }
    report(client, B, "run-1", digits="0000")  # B relabels its own, and only its own
    assert (samples_dir / samples[CAPTCHA]).read_bytes() == CAPTCHA.read_bytes()
    assert len(files_in(samples_dir)) == 2 and not (samples_dir / samples[OTHER]).exists()


def test_an_answer_called_wrong_after_right_keeps_no_label_until_the_right_digits_come(keeping, samples_dir):
    client = keeping.test_client()
    request_id = read(client, **A).headers["X-Request-ID"]
    assert report(client, A, request_id, correct=True).json["sample"]
    called_wrong = report(client, A, request_id, correct=False)
    assert called_wrong.json["verdict"] == "wrong" and not called_wrong.json["counted"]  # the first word counted
    assert called_wrong.json["sample"] is None
    assert files_in(samples_dir) == []
    relabelled = report(client, A, request_id, digits="1234").json["sample"]
    assert files_in(samples_dir) == [relabelled] and relabelled.endswith("_1234.jpg")
    report(client, A, request_id, correct=False)  # the digits the client gave stay: it is our answer it calls wrong
    assert files_in(samples_dir) == [relabelled]


def test_samples_dir_stays_within_its_byte_quota_and_says_why_a_sample_was_not_kept(samples_dir):
    quota = 3 * CAPTCHA.stat().st_size + 100  # room for three captchas
    keeping = create_app({"SAMPLES_DIR": str(samples_dir), "API_KEYS": "key-a", "SAMPLES_MAX_BYTES": quota})
    client = keeping.test_client()
    answers = [
        report(client, A, read(client, **A).headers["X-Request-ID"], digits=label_of(CAPTCHA)).json for _ in range(5)
    ]
    assert [answer["sample"] is not None for answer in answers] == [True, True, True, False, False]
    assert "SAMPLES_MAX_BYTES" in answers[-1]["not_kept"]
    assert (
        sum(path.stat().st_size for path in samples_dir.rglob("*") if path.is_file())
        <= keeping.config["SAMPLES_MAX_BYTES"]
    )


def test_a_key_cannot_report_on_another_keys_request(keeping, samples_dir):
    client = keeping.test_client()
    request_id = read(client, **A).headers["X-Request-ID"]
    stolen = report(client, B, request_id, digits="9999")
    assert stolen.status_code == 404 and files_in(samples_dir) == []
    assert report(client, A, request_id, correct=True).json["verdict"] == "right"


def test_a_reused_request_id_gets_an_id_of_its_own_and_never_replaces_the_image(keeping, samples_dir):
    client = keeping.test_client()
    victim = read(client, CAPTCHA, **A, **{"X-Request-ID": "login-1"})
    attacker = read(client, OTHER, **A, **{"X-Request-ID": "login-1"})
    assert victim.headers["X-Request-ID"] == "login-1" and attacker.headers["X-Request-ID"] != "login-1"
    sample = report(client, A, "login-1", digits=label_of(CAPTCHA)).json["sample"]
    assert (samples_dir / sample).read_bytes() == CAPTCHA.read_bytes()


def test_request_ids_that_differ_never_share_a_file(keeping, samples_dir):
    client = keeping.test_client()
    for request_id in ("a.b", "a:b", "a-b"):
        read(client, **A, **{"X-Request-ID": request_id})
        report(client, A, request_id, digits="1234")
    assert len(files_in(samples_dir)) == 3
    assert len({file_name_part(request_id) for request_id in ("a.b", "a:b", "a-b", "a~2eb", "a_b")}) == 5


def test_a_sample_that_cannot_be_written_is_reported_not_a_500(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("SAMPLES_DIR's folders cannot be made under a file, as on a full or read-only disk")
    client = create_app({"SAMPLES_DIR": str(blocked)}).test_client()
    answered = read(client)
    recorded = report(client, {}, answered.headers["X-Request-ID"], correct=True)
    assert (
        recorded.status_code == 200
        and recorded.json["sample"] is None
        and "could not be written" in recorded.json["not_kept"]
    )
    created = client.post(
        "/createTask", json={"clientKey": "k", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    ).json
    assert client.post("/reportCorrect", json={"clientKey": "k", "taskId": created["taskId"]}).json == {
        "errorId": 0,
        "status": "success",
    }


def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_part(tmp_path, monkeypatch):
    target = tmp_path / "1_1234.png"
    target.write_bytes(b"old")

    def crash(*_arguments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(target, b"new" * 1000)
    assert target.read_bytes() == b"old" and [path.name for path in tmp_path.iterdir()] == ["1_1234.png"]


# ---------------------------------------------------------------- the task store


def create_task(client, key, body=None):
    return client.post(
        "/createTask", json={"clientKey": key, "task": {"type": "ImageToTextTask", "body": body or base64_of(CAPTCHA)}}
    ).json


def test_a_task_keeps_a_digest_of_its_key_and_a_huge_key_is_no_key(client, app):
    assert create_task(client, "k" * 1_800_000)["errorId"] == 1
    assert (
        client.post("/in.php", data={"key": "k" * 300, "method": "base64", "body": base64_of(CAPTCHA)}).text
        == "ERROR_WRONG_USER_KEY"
    )
    task = task_store(app).get(create_task(client, "bot")["taskId"], key_owner("bot"))
    assert task is not None and "bot" not in task.owner and len(task.owner) == 32


def test_one_client_filling_the_store_evicts_its_own_tasks_not_anothers():
    store = TaskStore(size=10, ttl=600)
    mine = [store.add("a", f"a{index}", digits="1234").id for index in range(3)]
    flood = [store.add("b", f"b{index}", digits="1234").id for index in range(10_400)]
    assert all(store.get(task_id, "a") is not None for task_id in mine)
    assert len(store) == 10 and sum(store.get(task_id, "b") is not None for task_id in flood) == 7
    assert store.get(mine[0], "b") is None  # and nobody reads another's


def test_the_store_forgets_by_age_whoever_holds_the_most():
    now = [0.0]
    store = TaskStore(size=4, ttl=60, clock=lambda: now[0])
    old = store.add("a", "r1", digits="1234").id
    now[0] = 30
    newer = [store.add("b", f"r{index}", digits="1234").id for index in range(3)]
    now[0] = 61
    assert store.get(old, "a") is None and all(store.get(task_id, "b") for task_id in newer)
    store.add("c", "r", digits="1234")
    store.add("c", "r", digits="1234")
    assert len(store) == 4 and sum(store.get(task_id, "b") is not None for task_id in newer) == 2


@pytest.mark.parametrize("missing", [{}, {"key": ""}], ids=["no-key", "empty-key"])
def test_a_submission_without_a_key_is_refused_even_without_api_keys(client, missing):
    answer = client.post("/in.php", data={"method": "base64", "body": base64_of(CAPTCHA), **missing})
    assert answer.status_code == 200 and answer.text == "ERROR_WRONG_USER_KEY"
    created = client.post("/createTask", json={"task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}).json
    assert created["errorCode"] == "ERROR_KEY_DOES_NOT_EXIST"


# ---------------------------------------------------------------- site models


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def serving_models(models_dir):
    return create_app({"MODELS_DIR": str(models_dir), "API_KEYS": "key-a", "TESTING": False})


def site_model(models_dir, name, card=GOOD_CARD, model=None):
    folder = models_dir / name
    folder.mkdir(exist_ok=True)
    (folder / "digits.onnx").write_bytes(MODEL_FILE.read_bytes() if model is None else model)
    (folder / "card.json").write_text(card if isinstance(card, str) else json.dumps(card))
    return folder


def read_with(client, name):
    return client.post("/ocr", json={"image_base64": base64_of(CAPTCHA), "model": name, "min_confidence": 0}, headers=A)


HOSTILE_CARDS = {
    "not-json": "{",
    "a-list": "[1, 2]",
    "no-calibration": json.dumps({"name": "x"}),
    "calibration-a-string": json.dumps({"calibration": "1"}),
    "weights-strings": json.dumps({"calibration": {"weights": ["1", "2", "3", "4"], "bias": 0}}),
    "weights-booleans": json.dumps({"calibration": {"weights": [True, True, True, True], "bias": 0}}),
    "no-bias": json.dumps({"calibration": {"weights": [1, 2, 3, 4]}}),
    "bias-infinity": '{"calibration": {"weights": [1, 2, 3, 4], "bias": Infinity}}',
    "weight-nan": '{"calibration": {"weights": [NaN, 2, 3, 4], "bias": 0}}',
    "huge-number": '{"calibration": {"weights": [1e999, 2, 3, 4], "bias": 0}}',
    "nested-deeply": "[" * 100_000 + "]" * 100_000,
    "not-utf8": b"\xff\xfe{".decode("latin-1"),
}


@pytest.mark.parametrize("card", HOSTILE_CARDS.values(), ids=HOSTILE_CARDS.keys())
def test_a_malformed_card_makes_its_model_unusable_never_a_500(serving_models, models_dir, card):
    site_model(models_dir, "good")
    site_model(models_dir, "bad", card)
    client = serving_models.test_client()
    refused = read_with(client, "bad")
    assert refused.status_code == 422 and refused.json["detail"].startswith("site model 'bad' cannot be used")
    listed = {model["name"]: model for model in client.get("/models", headers=A).json["models"]}
    assert listed["bad"]["usable"] is False and "usable" not in listed["good"]
    assert (
        read_with(client, "good").status_code in (200, 422) and "cannot be used" not in read_with(client, "good").text
    )


@pytest.mark.parametrize(
    "model", [b"", b"not a model", MODEL_FILE.read_bytes()[:5000]], ids=["empty", "garbage", "truncated"]
)
def test_a_model_file_onnxruntime_cannot_load_is_unusable(serving_models, models_dir, model):
    site_model(models_dir, "broken", model=model)
    refused = read_with(serving_models.test_client(), "broken")
    assert refused.status_code == 422 and "cannot be read by onnxruntime" in refused.json["detail"]


def test_a_model_rewritten_in_place_keeps_the_one_loaded_before_serving(serving_models, models_dir):
    client = serving_models.test_client()
    folder = site_model(models_dir, "live")
    before = read_with(client, "live")
    assert before.status_code == 200
    whole = MODEL_FILE.read_bytes()
    (folder / "digits.onnx").write_bytes(whole[: len(whole) // 2])  # cp, half-way through
    assert read_with(client, "live").json == before.json
    (folder / "digits.onnx").write_bytes(whole)
    assert read_with(client, "live").json == before.json


def test_models_needs_a_key_and_an_unknown_model_lists_none(serving_models, models_dir):
    site_model(models_dir, "secret-shop")
    (models_dir / "general").mkdir(exist_ok=True)
    client = serving_models.test_client()
    assert client.get("/models").status_code == 401
    names = [model["name"] for model in client.get("/models", headers=A).json["models"]]
    assert "secret-shop" in names and "general" not in names
    unknown = read_with(client, "nope")
    assert unknown.status_code == 422 and "secret-shop" not in unknown.json["detail"]


# ---------------------------------------------------------------- protocols and settings


@pytest.mark.parametrize(
    "task_id", ["\u00b2", "9" * 5000, "-1", "1e5"], ids=["superscript", "5000-digits", "negative", "float"]
)
def test_hostile_task_ids_are_the_protocols_error_not_a_500(client, task_id):
    for json_flag in ("0", "1"):
        answer = client.get("/res.php", query_string={"key": "k", "action": "get", "id": task_id, "json": json_flag})
        assert answer.status_code == 200 and "ERROR_WRONG_ID_FORMAT" in answer.text


def test_a_key_that_is_no_text_is_a_key_error_not_a_500(client):
    body = '{"clientKey": "\\ud800", "task": {"type": "ImageToTextTask", "body": "eA=="}}'
    answer = client.post("/createTask", data=body, content_type="application/json")
    assert answer.status_code == 200 and answer.json["errorCode"] == "ERROR_KEY_DOES_NOT_EXIST"
    assert (
        client.get("/res.php", query_string={"key": "caf\u00e9", "action": "getbalance"}).text == "ERROR_WRONG_USER_KEY"
    )


def test_an_internal_failure_is_a_500_in_the_protocols_words(monkeypatch):
    app = create_app()

    def fail(*_arguments):
        raise RuntimeError("a bug")

    monkeypatch.setattr(task_store(app), "get", fail)
    client = app.test_client()
    polled = client.post("/getTaskResult", json={"clientKey": "k", "taskId": 10**14})
    assert polled.status_code == 500 and polled.json["errorId"] == 2
    assert (
        client.get("/res.php", query_string={"key": "k", "action": "get", "id": "100000000000000"}).status_code == 500
    )
    assert 'status="500"' in client.get("/metrics").text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASK_STORE_SIZE", -1),
        ("TASK_TTL_SECONDS", -1),
        ("UPSTREAM_CONCURRENCY", 0),
        ("MIN_CONFIDENCE", float("nan")),
        ("OCR_DIGITS", 9),
    ],
)
def test_a_setting_out_of_range_stops_the_start_up_naming_it(name, value):
    with pytest.raises(ValueError, match=f"{name}="):
        create_app({name: value})


def test_the_server_refuses_a_bad_setting_in_one_line_with_status_2():
    environment = {**os.environ, "TASK_STORE_SIZE": "-1", "PORT": "0"}
    started = subprocess.run(
        [sys.executable, "wsgi.py"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 2
    assert started.stderr.strip().splitlines() == [
        "captcha-ocr: setting TASK_STORE_SIZE=-1 is out of range: it must be from 1 to 10000000"
    ]


def test_a_write_a_killed_process_left_is_removed_and_not_counted(tmp_path):
    (tmp_path / "general").mkdir()
    left = tmp_path / "general" / ".r1_1234.jpg.0a1b2c3d.partial"
    left.write_bytes(b"x" * 100)
    (tmp_path / "general" / "r2_1234.jpg").write_bytes(b"y" * 10)
    assert folder_bytes(tmp_path) == 110 and left.exists()  # young: another process may be writing it
    assert (
        folder_bytes(tmp_path, clock=lambda: left.stat().st_mtime + STALE_PARTIAL_SECONDS + 1) == 10
        and not left.exists()
    )
