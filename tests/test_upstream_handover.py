"""A captcha forwarded to the upstream solver outlives its process: with REDIS_URL another process finishes it."""

import contextlib
import http.server
import json
import shutil
import threading
import time

import pytest
import requests

from captcha_service.shared import connect
from captcha_service.solver_protocols.redis_tasks import LEASE_SECONDS, RedisTaskStore
from captcha_service.solver_protocols.tasks import Receipt
from captcha_service.solver_protocols.upstream import Expected, Handover
from deploy.local_server import running_server
from tests.captchas import CAPTCHA_FILES, base64_of

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed (make redis)"
)
CAPTCHA = CAPTCHA_FILES[0]
UPSTREAM_TASK_ID, UPSTREAM_ANSWER = 7777, "4321"


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_a_lease_not_renewed_is_claimed_once_with_its_handover_and_a_finished_task_is_not(redis_server):
    clock = Clock()
    store = RedisTaskStore(connect(redis_server.url), 10, 600, clock)
    try:
        forwarded, finished, evicted = (store.add("owner", f"request-{n}") for n in range(3))
        handover = Handover(clock.now + 60, Expected(True, 4, 4), UPSTREAM_TASK_ID).text()
        for task in (forwarded, finished, evicted):
            store.lease(task.id, handover)
        store.finish(finished.id, digits="1234")
        store.client.delete(f"{{captcha-ocr}}:task:{evicted.id}")
        assert store.claim_abandoned(10) == []  # every lease still runs
        clock.now += LEASE_SECONDS + 1
        assert store.claim_abandoned(10) == [(forwarded.id, handover)]
        assert store.claim_abandoned(10) == []  # claimed: held by the claimer now
        store.release(forwarded.id)
        assert store.claim_abandoned(10) == [(forwarded.id, handover)]  # a stopping process hands it on at once
        assert Handover.of_text(handover) == Handover(
            clock.now - LEASE_SECONDS - 1 + 60, Expected(True, 4, 4), UPSTREAM_TASK_ID
        )
        store.lease(evicted.id, handover)  # a task gone is not brought back by its lease
        assert store.client.exists(f"{{captcha-ocr}}:task:{evicted.id}") == 0
    finally:
        store.client.close()


def test_the_upstreams_receipt_is_kept_with_its_answer_for_any_process(redis_server):
    store = RedisTaskStore(connect(redis_server.url), 10, 600, Clock())
    try:
        forwarded, read_here = store.add("owner", "request-1"), store.add("owner", "request-2", digits="1234")
        store.finish(forwarded.id, digits="4321", receipt=Receipt(UPSTREAM_TASK_ID, "0.0007", 1_000_009, 2))
        assert store.get(forwarded.id, "owner").receipt == Receipt(UPSTREAM_TASK_ID, "0.0007", 1_000_009, 2)
        assert store.get(read_here.id, "owner").receipt is None
    finally:
        store.client.close()


@contextlib.contextmanager
def slow_upstream(seconds):
    """A createTask upstream that answers UPSTREAM_ANSWER ``seconds`` after the task came. Yields (url, {method:
    calls})."""
    calls, created = {"createTask": 0, "getTaskResult": 0}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            method = self.path.rsplit("/", 1)[-1]
            calls[method] += 1
            if method == "createTask":
                created.append(time.monotonic())
                answer = {"errorId": 0, "taskId": UPSTREAM_TASK_ID}
            elif request.get("taskId") != UPSTREAM_TASK_ID:
                answer = {"errorId": 16, "errorCode": "ERROR_NO_SUCH_CAPCHA_ID"}
            elif time.monotonic() - created[0] < seconds:
                answer = {"errorId": 0, "status": "processing"}
            else:
                answer = {"errorId": 0, "status": "ready", "solution": {"text": UPSTREAM_ANSWER}}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("stop", ["kill", "terminate"])
def test_a_forwarded_captcha_whose_process_stops_is_finished_by_another_and_paid_for_once(redis_server, tmp_path, stop):
    with slow_upstream(seconds=4) as (upstream, calls):
        settings = {
            "REDIS_URL": redis_server.url,
            "UPSTREAM_SOLVER": upstream,
            "UPSTREAM_SOLVER_KEY": "k",
            "MIN_CONFIDENCE": 1.0,
        }
        with (
            running_server(tmp_path / "first.log", **settings) as (first, _, doomed, _),
            running_server(tmp_path / "second.log", **settings) as (second, *_),
        ):
            task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}
            created = requests.post(f"{first}/createTask", json={"clientKey": "bot", "task": task}, timeout=10).json()
            assert created["status"] == "processing"
            deadline = time.monotonic() + 10
            while calls["getTaskResult"] == 0:  # the upstream has the captcha, and is being polled
                assert time.monotonic() < deadline
                time.sleep(0.05)
            getattr(doomed, stop)()  # kill -9: no chance to hand anything on; SIGTERM: handed on as it stops
            doomed.wait(timeout=10)
            deadline = time.monotonic() + LEASE_SECONDS + 15
            while (
                answer := requests.post(
                    f"{second}/getTaskResult", json={"clientKey": "bot", "taskId": created["taskId"]}, timeout=10
                ).json()
            )["status"] == "processing":
                assert time.monotonic() < deadline, "the task was never finished"
                time.sleep(0.25)
    assert answer["solution"]["text"] == UPSTREAM_ANSWER
    assert calls["createTask"] == 1  # polled for again, not sent (and paid for) again
