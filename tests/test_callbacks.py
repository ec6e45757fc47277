"""pingback (in.php) and callbackUrl (createTask): the answer is POSTed to the bot's own server when ready."""

import http.server
import json
import queue
import threading
import urllib.parse

import pytest

from captcha_service import create_app
from captcha_service.solver_protocols.callbacks import CALLBACK_URL, PINGBACK, Callback, Callbacks
from captcha_service.solver_protocols.errors import SolverError
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


@pytest.fixture(scope="module")
def receiver():
    """The bot's own server: yields (url, a queue of (path, content type, body) it was sent)."""
    received = queue.Queue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.put(
                (self.path, self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"])).decode())
            )
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *_arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_a_pingback_is_sent_the_id_and_the_answer_as_2captcha_sends_them(client, receiver):
    url, received = receiver
    sent = client.post(
        "/in.php",
        data={"key": "any", "method": "base64", "body": base64_of(CAPTCHA), "pingback": f"{url}/pingback?bot=1"},
    )
    task_id = sent.get_data(as_text=True).split("|")[1]
    path, content_type, body = received.get(timeout=10)
    assert path == "/pingback?bot=1" and content_type == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(body) == {"id": [task_id], "code": [label_of(CAPTCHA)]}


def test_a_callback_url_is_sent_what_get_task_result_answers_unsolvable_too(client, receiver):
    url, received = receiver
    task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), "math": True}  # a sum: unsolvable here
    created = client.post("/createTask", json={"clientKey": "any", "callbackUrl": f"{url}/done", "task": task}).json
    path, content_type, body = received.get(timeout=10)
    assert path == "/done" and content_type == "application/json"
    assert json.loads(body) == {
        "taskId": created["taskId"],
        "errorId": 12,
        "errorCode": "ERROR_CAPTCHA_UNSOLVABLE",
        "errorDescription": "no sure reading of this captcha",
    }
    task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}
    created = client.post("/createTask", json={"clientKey": "any", "callbackUrl": f"{url}/done", "task": task}).json
    _, _, body = received.get(timeout=10)
    polled = client.post("/getTaskResult", json={"clientKey": "any", "taskId": created["taskId"]}).json
    # the accounting fields too (cost, createTime, endTime, solveCount): they were left out
    assert json.loads(body) == {"taskId": created["taskId"], **polled}
    assert polled["solution"] == {"text": label_of(CAPTCHA)} and polled["cost"] == "0"


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/hook",
        "http://example.com/hook",
        "ftp://127.0.0.1/x",
        "not a url",
        # malformed: each was accepted, and then a 500 (an unclosed IPv6 bracket) or a delivery that never came
        "http://[127.0.0.1/",
        "http://127.0.0.1:99999/",
        "http://localhost:abc/",
        "http://127.0.0.1/a b",
    ],
)
def test_a_callback_to_a_host_not_allowed_or_no_url_is_refused_before_anything_is_read(client, target):
    task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}
    answer = client.post("/createTask", json={"clientKey": "any", "callbackUrl": target, "task": task}).json
    assert answer["errorId"] == 22 and answer["errorCode"] == "ERROR_BAD_PARAMETERS"
    sent = client.post(
        "/in.php", data={"key": "any", "method": "base64", "body": base64_of(CAPTCHA), "pingback": target}
    )
    assert sent.get_data(as_text=True) == "ERROR_BAD_PARAMETERS"


@pytest.mark.parametrize("target", ["http://127.0.0.1/\ud800", "http://127.0.0.1/x\r\nX-Injected: 1", "http://[::1"])
def test_a_callback_no_request_could_be_sent_to_is_refused(target):
    with pytest.raises(SolverError, match="printable ASCII"):
        Callbacks("127.0.0.1,::1").callback(target, CALLBACK_URL)


def test_callback_hosts_may_name_others():
    callbacks = Callbacks("hooks.example, 10.0.0.7")
    assert callbacks.callback("https://hooks.example/x", CALLBACK_URL) == Callback(
        "https://hooks.example/x", CALLBACK_URL
    )
    assert callbacks.callback("http://10.0.0.7:8080/x", PINGBACK).url == "http://10.0.0.7:8080/x"
    with pytest.raises(SolverError):
        callbacks.callback("http://127.0.0.1/x", PINGBACK)
    assert Callbacks("*").callback("http://anywhere.example/x", PINGBACK).url == "http://anywhere.example/x"


def test_a_captcha_forwarded_upstream_is_told_when_the_upstream_answers(receiver):
    url, received = receiver

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            answer = {"errorId": 0, "taskId": 5, "status": "ready", "solution": {"text": "8642"}, "cost": "0.0007"}
            body = json.dumps(answer | {"endTime": 1_700_000_000, "solveCount": 2}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_arguments):
            pass

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        client = create_app(
            {"UPSTREAM_SOLVER": f"http://127.0.0.1:{upstream.server_address[1]}", "MIN_CONFIDENCE": 1.0}
        ).test_client()
        task_id = (
            client.post(
                "/in.php", data={"key": "any", "method": "base64", "body": base64_of(CAPTCHA), "pingback": f"{url}/p"}
            )
            .get_data(as_text=True)
            .split("|")[1]
        )
        _, _, body = received.get(timeout=10)
        assert urllib.parse.parse_qs(body) == {"id": [task_id], "code": ["8642"]}
        task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}
        created = client.post("/createTask", json={"clientKey": "any", "callbackUrl": f"{url}/c", "task": task}).json
        _, _, body = received.get(timeout=10)
        polled = client.post("/getTaskResult", json={"clientKey": "any", "taskId": created["taskId"]}).json
        assert json.loads(body) == {"taskId": created["taskId"], **polled}  # the upstream's cost and solvers too
        assert (polled["cost"], polled["endTime"], polled["solveCount"]) == ("0.0007", 1_700_000_000, 2)
    finally:
        upstream.shutdown()
        upstream.server_close()
