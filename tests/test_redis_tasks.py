"""REDIS_URL: tasks in a real redis-server, so any process answers a poll for any task; Redis lost is a quick protocol
error."""

import shutil
import time

import pytest

from captcha_service import create_app
from captcha_service.api.quotas import OverQuota
from captcha_service.shared import connect
from captcha_service.solver_protocols.redis_tasks import RedisTaskStore
from captcha_service.solver_protocols.tasks import TASKS_EXTENSION
from deploy.local_server import free_port
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed (make redis)"
)
CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


@pytest.fixture
def apps(redis_server):
    """make(): an app's test client on ``redis_server``; every Redis client made is closed afterwards."""
    made = []

    def make():
        app = create_app({"REDIS_URL": redis_server.url})
        made.append(app.extensions[TASKS_EXTENSION].client)
        return app.test_client()

    make.store = lambda **bounds: (
        made.append((store := RedisTaskStore(connect(redis_server.url), **bounds)).client) or store
    )
    yield make
    for client in made:
        client.close()


def create(client, key="key-a", **task):
    return client.post(
        "/createTask", json={"clientKey": key, "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), **task}}
    ).json


def result(client, task_id, key="key-a"):
    return client.post("/getTaskResult", json={"clientKey": key, "taskId": task_id}).json


def test_a_task_created_by_one_process_is_answered_by_another(apps):
    first, second = apps(), apps()
    created = create(first)
    assert created["status"] == "ready"
    assert result(second, created["taskId"])["solution"] == {"text": label_of(CAPTCHA)}
    # another key's task
    assert result(second, created["taskId"], key="key-b")["errorCode"] == "ERROR_NO_SUCH_CAPCHA_ID"
    submitted = first.post("/in.php", data={"key": "key-a", "method": "base64", "body": base64_of(CAPTCHA)}).get_data(
        as_text=True
    )
    assert submitted.startswith("OK|")
    assert (
        second.get(f"/res.php?key=key-a&action=get&id={submitted[3:]}").get_data(as_text=True)
        == f"OK|{label_of(CAPTCHA)}"
    )
    report = {"clientKey": "key-a", "taskId": created["taskId"]}
    assert second.post("/reportCorrect", json=report).json["errorId"] == 0
    # counted once, by any process
    assert not apps.store(size=10, ttl=60, clock=time.time).first_report(created["taskId"])


def test_the_store_keeps_its_bounds_and_evicts_the_greediest_client_first(apps):
    now = [1000.0]
    store = apps.store(size=3, ttl=60, clock=lambda: now[0])
    greedy = [store.add("a" * 32, f"r{i}", digits="1234") for i in range(3)]
    now[0] += 1
    modest = store.add("b" * 32, "r9", digits="5678")
    assert len(store) == 3
    assert store.get(greedy[0].id, "a" * 32) is None  # the client holding the most lost its oldest
    assert store.get(greedy[1].id, "a" * 32).digits == "1234" and store.get(modest.id, "b" * 32).digits == "5678"
    assert store.get(modest.id, "a" * 32) is None
    pending = store.add("b" * 32, "r10")
    assert store.get(pending.id, "b" * 32).pending
    store.finish(pending.id, error="ERROR_CAPTCHA_UNSOLVABLE")
    assert store.get(pending.id, "b" * 32).error == "ERROR_CAPTCHA_UNSOLVABLE"
    now[0] += 61
    assert store.get(modest.id, "b" * 32) is None  # older than the TTL
    store.add("c" * 32, "r11", digits="999")
    assert len(store) == 1  # the expired ones are gone from the count too


def test_a_redis_that_cannot_be_reached_stops_the_start_up():
    with pytest.raises(ValueError, match="REDIS_URL='redis://127.0.0.1:.*' cannot be reached"):
        create_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})


def test_redis_lost_while_serving_is_a_quick_protocol_error_and_ocr_goes_on(apps, redis_server):
    client = apps()
    redis_server.stop()
    started = time.monotonic()
    lost = create(client)
    assert lost["errorId"] == 2 and lost["errorCode"] == "ERROR_NO_SLOT_AVAILABLE"
    assert (
        client.post("/in.php", data={"key": "k", "method": "base64", "body": base64_of(CAPTCHA)}).get_data(as_text=True)
        == "ERROR_NO_SLOT_AVAILABLE"
    )
    assert time.monotonic() - started < 2
    assert client.post("/ocr", json={"image_base64": base64_of(CAPTCHA)}).status_code == 200  # /ocr needs no store
    redis_server.start()
    assert create(client)["status"] == "ready"  # back as soon as Redis is


def test_a_client_list_lost_under_the_store_still_keeps_the_bound(apps):
    store = apps.store(size=2, ttl=60, clock=time.time)
    for request in range(2):
        store.add("a" * 32, f"r{request}", digits="1234")
    # expired or evicted apart from the tasks (clocks apart, maxmemory)
    store.client.delete("{captcha-ocr}:owner:" + "a" * 32)
    for request in range(2):
        assert store.add("b" * 32, f"s{request}", digits="5678").digits == "5678"
    assert len(store) == 2


def test_quotas_hold_across_processes_sharing_redis(redis_server):
    clients = [create_app({"REDIS_URL": redis_server.url, "KEY_CONCURRENCY": 1}) for _ in range(2)]
    first, second = (app.extensions["captcha_ocr_quotas"] for app in clients)
    try:
        with first.admit("a" * 32), pytest.raises(OverQuota, match="KEY_CONCURRENCY=1"), second.admit("a" * 32):
            pass  # a read of that key under way in the other process
        with second.admit("a" * 32):  # it ended: room again, from either process
            pass
    finally:
        for app in clients:
            app.extensions[TASKS_EXTENSION].client.close()
