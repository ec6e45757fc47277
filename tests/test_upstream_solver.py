"""UPSTREAM_SOLVER: what we would refuse goes to another solver (here a second instance of this service)."""

import contextlib
import http.server
import json
import socket
import threading
import time
import urllib.request

import pytest

from captcha_service import create_app
from captcha_service.solver_protocols import upstream as upstream_module
from captcha_service.solver_protocols.callbacks import Callbacks
from captcha_service.solver_protocols.solving import BALANCE
from captcha_service.solver_protocols.tasks import Receipt, TaskStore
from captcha_service.solver_protocols.upstream import Upstream
from deploy.local_server import free_port, running_server
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))
UPSTREAM_KEY = "upstream-key"
REFUSES_ALL = {"MIN_CONFIDENCE": 1.0}  # no reading is that sure: every captcha is one we would refuse


@pytest.fixture(scope="module")
def upstream_url(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("upstream") / "server.log", API_KEYS=UPSTREAM_KEY) as (
        url,
        _port,
        _process,
        _seconds,
    ):
        yield url


def client_of(upstream, **settings):
    return create_app(
        {"UPSTREAM_SOLVER": upstream, "UPSTREAM_SOLVER_KEY": UPSTREAM_KEY, **REFUSES_ALL, **settings}
    ).test_client()


def poll(client, task_id, seconds=15):
    """getTaskResult until it is no longer processing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.post("/getTaskResult", json={"clientKey": "bot", "taskId": task_id}).json
        if answer.get("status") != "processing":
            return answer
        time.sleep(0.1)
    raise AssertionError("still processing")


def create(client):
    return client.post(
        "/createTask", json={"clientKey": "bot", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    ).json


@pytest.fixture(scope="module")
def forwarding(upstream_url):
    return client_of(upstream_url)


def test_a_captcha_we_would_refuse_is_answered_by_the_upstream(forwarding):
    created = create(forwarding)
    assert created["errorId"] == 0 and created["status"] == "processing"
    assert poll(forwarding, created["taskId"])["solution"]["text"] == label_of(CAPTCHA)


def test_2captcha_clients_see_not_ready_then_the_upstreams_answer(forwarding):
    task_id = (
        forwarding.post("/in.php", data={"key": "bot", "method": "base64", "body": base64_of(CAPTCHA)})
        .get_data(as_text=True)
        .split("|")[1]
    )
    answers = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not answers[-1:] == [f"OK|{label_of(CAPTCHA)}"]:
        answers.append(
            forwarding.get("/res.php", query_string={"key": "bot", "action": "get", "id": task_id}).get_data(
                as_text=True
            )
        )
        time.sleep(0.05)
    assert answers[0] == "CAPCHA_NOT_READY" and answers[-1] == f"OK|{label_of(CAPTCHA)}"


def test_an_upstream_that_is_down_is_our_usual_unsolvable_and_one_refusing_our_key_says_so(upstream_url):
    down = client_of(f"http://127.0.0.1:{free_port()}")
    assert poll(down, create(down)["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
    # the operator's key, not the bot's, is wrong
    wrong_key = client_of(upstream_url, UPSTREAM_SOLVER_KEY="not-the-key")
    assert poll(wrong_key, create(wrong_key)["taskId"])["errorCode"] == "ERROR_KEY_DOES_NOT_EXIST"


@contextlib.contextmanager
def silent_upstream():
    """A server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def test_a_silent_upstream_times_out_and_a_busy_one_is_not_waited_for():
    with silent_upstream() as url:
        client = client_of(url, UPSTREAM_TIMEOUT_SECONDS=1.5, UPSTREAM_CONCURRENCY=1)
        started = time.monotonic()
        first = create(client)
        assert first["status"] == "processing"
        second = create(client)  # the one upstream slot is taken: refused at once, as without an upstream
        assert second["status"] == "failed"
        assert poll(client, second["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        assert poll(client, first["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        assert time.monotonic() - started < 5


@contextlib.contextmanager
def hostile_upstream(answer):
    """An upstream whose createTask answers ``answer(handler)`` (the request's bytes in ``handler.body``): whatever
    bytes, pace or status an attacker likes. Yields (url, the paths it was asked for)."""
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            asked.append(self.path)
            self.body = self.rfile.read(int(self.headers["Content-Length"]))
            with contextlib.suppress(OSError):
                answer(self)

        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_arguments):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def ready_with(text):
    def answer(handler):
        body = json.dumps({"errorId": 0, "taskId": 1, "status": "ready", "solution": {"text": text}}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


@pytest.mark.parametrize(
    "text", ["abcd", "12\x0034", "9" * 900_000, "12", "123456789", "\u0661\u0662\u0663\u0664", 1234], ids=repr
)
def test_an_upstream_answer_that_is_not_digits_of_the_asked_length_is_unsolvable(text):
    with hostile_upstream(ready_with(text)) as (url, _asked):
        client = client_of(url)
        answer = poll(client, create(client)["taskId"])
        assert answer["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        submitted = client.post("/in.php", data={"key": "bot", "method": "base64", "body": base64_of(CAPTCHA)}).text
        task_id = submitted.split("|")[1]
        deadline = time.monotonic() + 15
        while (
            text_answer := client.get("/res.php", query_string={"key": "bot", "action": "get", "id": task_id}).text
        ) == "CAPCHA_NOT_READY":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert text_answer == "ERROR_CAPTCHA_UNSOLVABLE"


def test_an_upstream_answer_of_digits_in_range_is_passed_on():
    with hostile_upstream(ready_with("4821")) as (url, _asked):
        client = client_of(url)
        assert poll(client, create(client)["taskId"])["solution"]["text"] == "4821"


def test_a_sum_or_a_phrase_goes_upstream_with_what_the_bot_said_of_it():
    sent = []

    def recording(text):
        def answer(handler):
            sent.append(json.loads(handler.body)["task"])
            ready_with(text)(handler)

        return answer

    task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), "math": True, "case": True, "comment": "add them up"}
    with hostile_upstream(recording("12")) as (url, _asked):
        client = client_of(url, MIN_CONFIDENCE=0.0)  # a captcha we read, were it a number to read
        created = client.post("/createTask", json={"clientKey": "bot", "task": task}).json
        assert poll(client, created["taskId"])["solution"]["text"] == "12"
        in_php = {
            "key": "bot",
            "method": "base64",
            "body": base64_of(CAPTCHA),
            "calc": "1",
            "textinstructions": "add",
            "lang": "en",
        }
        task_id = client.post("/in.php", data=in_php).get_data(as_text=True).split("|")[1]
        assert poll(client, int(task_id))["solution"]["text"] == "12"
    assert {name: sent[0][name] for name in ("math", "case", "comment")} == {
        "math": True,
        "case": True,
        "comment": "add them up",
    }
    assert {name: sent[1][name] for name in ("math", "comment", "languagePool")} == {
        "math": True,
        "comment": "add",
        "languagePool": "en",
    }
    with hostile_upstream(recording("two words")) as (url, _asked):
        client = client_of(url, MIN_CONFIDENCE=0.0)
        created = client.post(
            "/createTask", json={"clientKey": "bot", "task": {**task, "math": False, "phrase": True}}
        ).json
        assert poll(client, created["taskId"])["solution"]["text"] == "two words"


def trickle(handler):
    """Answer a byte at a time, each well within any per-read timeout: only a deadline for the whole ends it."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.3)


def test_a_trickling_upstream_is_cut_at_the_one_deadline():
    with hostile_upstream(trickle) as (url, _asked):
        client = client_of(url, UPSTREAM_TIMEOUT_SECONDS=2.0)
        started = time.monotonic()
        assert poll(client, create(client)["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        assert time.monotonic() - started < 4


def test_a_redirect_to_another_address_is_not_followed():
    with hostile_upstream(lambda handler: None) as (canary, canary_asked):

        def redirect(handler):
            handler.send_response(307)
            handler.send_header("Location", f"{canary}/internal-admin")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with hostile_upstream(redirect) as (url, _asked):
            client = client_of(url)
            assert poll(client, create(client)["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
    assert canary_asked == []


def test_a_server_stops_at_once_while_an_upstream_trickles(tmp_path):
    with hostile_upstream(trickle) as (upstream, asked):
        settings = {
            "UPSTREAM_SOLVER": upstream,
            "UPSTREAM_SOLVER_KEY": "k",
            "UPSTREAM_TIMEOUT_SECONDS": 60,
            **REFUSES_ALL,
        }
        with running_server(tmp_path / "server.log", **settings) as (url, _port, process, _seconds):
            body = json.dumps(
                {"clientKey": "bot", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
            ).encode()
            urllib.request.urlopen(
                urllib.request.Request(f"{url}/createTask", data=body, headers={"Content-Type": "application/json"}),
                timeout=10,
            )
            deadline = time.monotonic() + 10
            while not asked:  # the exchange is under way
                assert time.monotonic() < deadline
                time.sleep(0.05)
            stopping = time.monotonic()
            process.terminate()
            process.wait(timeout=10)
            assert time.monotonic() - stopping < 3


def test_a_task_store_that_fails_gives_the_upstream_slot_back():
    class FlakyStore(TaskStore):
        failures = 2

        def add(self, owner, request_id):
            if self.failures:
                self.failures -= 1
                raise RuntimeError("the store is away")
            return super().add(owner, request_id)

    upstream = Upstream("http://127.0.0.1:9", "key", 2, 1.0, FlakyStore(10, 60), Callbacks(""))
    for _ in range(2):
        with pytest.raises(RuntimeError):
            upstream.forward(b"image", "owner", "request", {}, None)
    assert upstream.forward(b"image", "owner", "request", {}, None) is not None  # both slots came back
    upstream.close()


# ---------------------------------------------------------------- the upstream's accounting: balance, account errors,
# receipts, reports
UPSTREAM_TASK_ID = 4242


def answering(answers, calls):
    """A hostile_upstream ``answer`` speaking the createTask API: ``answers[method]`` (a dict) as JSON, or HTTP 404 for
    a method it has not; each call recorded in ``calls`` as (method, its JSON body)."""

    def answer(handler):
        method = handler.path.rsplit("/", 1)[-1]
        calls.append((method, json.loads(handler.body)))
        body = json.dumps(answers[method]).encode() if method in answers else b""
        handler.send_response(200 if method in answers else 404)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def methods_called(calls, method, seconds=5, at_least=1):
    """The bodies of ``method``'s calls, once there are ``at_least`` of them (or ``seconds`` passed)."""
    deadline = time.monotonic() + seconds
    while len(bodies := [body for name, body in calls if name == method]) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return bodies


def in_php(client, **fields):
    return client.post(
        "/in.php", data={"key": "bot", "method": "base64", "body": base64_of(CAPTCHA), **fields}
    ).get_data(as_text=True)


def res_php(client, **query):
    return client.get("/res.php", query_string={"key": "bot", **query}).get_data(as_text=True)


def test_the_balance_is_the_upstream_accounts_asked_at_most_every_30_seconds():
    calls = []
    with hostile_upstream(answering({"getBalance": {"errorId": 0, "balance": 12.3456}}, calls)) as (url, _asked):
        client = client_of(url)
        assert client.post("/getBalance", json={"clientKey": "bot"}).json == {"errorId": 0, "balance": 12.3456}
        assert res_php(client, action="getbalance") == "12.3456"
        assert client.get("/res.php", query_string={"key": "bot", "action": "getbalance", "json": "1"}).json == {
            "status": 1,
            "request": "12.3456",
        }
    # once for the three: anti-captcha asks for 30 s apart
    assert [body for _method, body in calls] == [{"clientKey": UPSTREAM_KEY}]


def test_a_crowd_of_bots_asking_the_balance_at_once_makes_one_call_to_the_upstream():
    calls = []
    answer = answering({"getBalance": {"errorId": 0, "balance": 7.5}}, calls)

    def slowly(handler):
        time.sleep(0.5)
        answer(handler)

    with hostile_upstream(slowly) as (url, _asked):
        app = client_of(url).application
        balances = []
        crowd = [
            threading.Thread(
                target=lambda: balances.append(app.test_client().post("/getBalance", json={"clientKey": "bot"}).json)
            )
            for _ in range(8)
        ]
        for bot in crowd:
            bot.start()
        for bot in crowd:
            bot.join()
    assert balances == [{"errorId": 0, "balance": 7.5}] * 8 and len(calls) == 1


def test_without_an_upstream_the_balance_is_the_constant_it_was():
    client = create_app(REFUSES_ALL).test_client()
    assert client.post("/getBalance", json={"clientKey": "bot"}).json == {"errorId": 0, "balance": BALANCE}
    assert res_php(client, action="getbalance") == "1000000.00"


def test_an_upstream_that_gives_no_balance_is_asked_again_soon_and_its_last_balance_kept(monkeypatch):
    calls, answers = [], {}
    with hostile_upstream(answering(answers, calls)) as (url, _asked):
        client = client_of(url)
        # HTTP 404: none
        assert client.post("/getBalance", json={"clientKey": "bot"}).json["errorCode"] == "ERROR_NO_SLOT_AVAILABLE"
        assert res_php(client, action="getbalance") == "ERROR_NO_SLOT_AVAILABLE"
        assert len(calls) == 1  # a failure is not asked again at each poll either
        monkeypatch.setattr(upstream_module, "BALANCE_RETRY_SECONDS", 0.0)
        monkeypatch.setattr(upstream_module, "BALANCE_SECONDS", 0.0)
        answers["getBalance"] = {"errorId": 0, "balance": 3}
        assert client.post("/getBalance", json={"clientKey": "bot"}).json["balance"] == 3
        answers["getBalance"] = {"errorId": 0, "balance": "lots"}
        # not the protocol: the last one had
        assert client.post("/getBalance", json={"clientKey": "bot"}).json["balance"] == 3


@pytest.mark.parametrize(
    ("upstream_code", "error_id", "legacy"),
    [
        ("ERROR_ZERO_BALANCE", 10, "ERROR_ZERO_BALANCE"),
        ("ERROR_KEY_DOES_NOT_EXIST", 1, "ERROR_KEY_DOES_NOT_EXIST"),
        ("ERROR_IP_NOT_ALLOWED", 11, "ERROR_IP_NOT_ALLOWED"),
        ("ERROR_IP_BLOCKED", 21, "IP_BANNED"),
    ],
)
def test_the_upstreams_account_errors_reach_the_client_as_they_are_and_are_logged_once(
    upstream_code, error_id, legacy, caplog
):
    refusal = {"errorId": error_id, "errorCode": upstream_code, "errorDescription": "see your account"}
    with hostile_upstream(answering({"createTask": refusal, "getBalance": refusal}, [])) as (url, _asked):
        client = client_of(url)
        answer = poll(client, create(client)["taskId"])
        assert (answer["errorId"], answer["errorCode"]) == (error_id, upstream_code)
        task_id = in_php(client).split("|")[1]
        deadline = time.monotonic() + 15
        while (text := res_php(client, action="get", id=task_id)) == "CAPCHA_NOT_READY":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert text == legacy  # 2captcha's name for it
        assert client.post("/getBalance", json={"clientKey": "bot"}).json["errorCode"] == upstream_code
        assert res_php(client, action="getbalance") == legacy
    told = [
        record for record in caplog.records if record.name == upstream_module.__name__ and record.levelname == "ERROR"
    ]
    assert len(told) == 1 and upstream_code in told[0].getMessage() and "UPSTREAM_SOLVER_KEY" in told[0].getMessage()


def test_an_account_error_said_with_capsolvers_http_status_and_name_is_read_too():
    def capsolver(handler):  # CapSolver answers its errors with HTTP 400 / 401 and the JSON error
        body = json.dumps(
            {"errorId": 1, "errorCode": "ERROR_KEY_DENIED_ACCESS", "errorDescription": "key denied"}
        ).encode()
        handler.send_response(401)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with hostile_upstream(capsolver) as (url, _asked):
        client = client_of(url)
        assert poll(client, create(client)["taskId"])["errorCode"] == "ERROR_KEY_DOES_NOT_EXIST"


def test_an_upstream_refusal_that_is_not_about_the_account_is_still_unsolvable():
    answers = {"createTask": {"errorId": 2, "errorCode": "ERROR_NO_SLOT_AVAILABLE"}}
    with hostile_upstream(answering(answers, [])) as (url, _asked):
        client = client_of(url)
        assert poll(client, create(client)["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"


READY = {
    "errorId": 0,
    "taskId": UPSTREAM_TASK_ID,
    "status": "ready",
    "solution": {"text": "4821"},
    "cost": "0.000700",
    "createTime": 1_700_000_000,
    "endTime": 1_700_000_009,
    "solveCount": "2",
}


def test_the_upstreams_cost_end_and_solvers_are_passed_on_for_its_answers_only():
    with hostile_upstream(answering({"createTask": READY}, [])) as (url, _asked):
        client = client_of(url)
        created = create(client)
        answer = poll(client, created["taskId"])
        assert answer["solution"]["text"] == "4821"
        assert (answer["cost"], answer["endTime"], answer["solveCount"]) == ("0.000700", 1_700_000_009, 2)
        assert abs(answer["createTime"] - time.time()) < 60  # when the bot created it here
        task_id = in_php(client).split("|")[1]
        poll(client, int(task_id))
        assert res_php(client, action="get2", id=task_id) == "OK|4821|0.000700"
        assert (
            client.get("/res.php", query_string={"key": "bot", "action": "get2", "id": task_id, "json": "1"}).json[
                "price"
            ]
            == "0.000700"
        )
        read_here = client_of(url, MIN_CONFIDENCE=0.0)  # we read it: nothing paid
        local = poll(read_here, create(read_here)["taskId"])
        assert (local["cost"], local["endTime"], local["solveCount"]) == ("0", local["createTime"], 1)


def test_a_report_on_an_upstreams_answer_is_forwarded_to_it_once_with_its_task_id():
    calls = []
    answers = {
        "createTask": READY,
        "reportIncorrectImageCaptcha": {"errorId": 0, "status": "success"},
        "reportCorrect": {"errorId": 0, "status": "success"},
    }
    with hostile_upstream(answering(answers, calls)) as (url, _asked):
        client = client_of(url)
        task_id = create(client)["taskId"]
        poll(client, task_id)
        for _ in range(2):  # the second is answered success too, and forwarded no more
            assert (
                client.post("/reportIncorrectImageCaptcha", json={"clientKey": "bot", "taskId": task_id}).json["status"]
                == "success"
            )
        assert methods_called(calls, "reportIncorrectImageCaptcha") == [
            {"clientKey": UPSTREAM_KEY, "taskId": UPSTREAM_TASK_ID}
        ]
        legacy_id = in_php(client).split("|")[1]
        poll(client, int(legacy_id))
        assert res_php(client, action="reportgood", id=legacy_id) == "OK_REPORT_RECORDED"
        assert res_php(client, action="reportbad", id=legacy_id) == "ERROR_DUPLICATE_REPORT"
        assert methods_called(calls, "reportCorrect") == [{"clientKey": UPSTREAM_KEY, "taskId": UPSTREAM_TASK_ID}]
        time.sleep(0.5)  # nothing more comes
        assert len(methods_called(calls, "reportIncorrectImageCaptcha", seconds=0)) == 1


def test_a_report_goes_by_2captchas_name_to_an_upstream_without_anti_captchas_and_not_at_all_for_our_answers():
    calls = []
    with hostile_upstream(
        answering({"createTask": READY, "reportIncorrect": {"errorId": 0, "status": "success"}}, calls)
    ) as (url, _asked):
        client = client_of(url)
        task_id = create(client)["taskId"]
        poll(client, task_id)
        client.post("/reportIncorrect", json={"clientKey": "bot", "taskId": task_id})
        assert methods_called(calls, "reportIncorrect") == [{"clientKey": UPSTREAM_KEY, "taskId": UPSTREAM_TASK_ID}]
        read_here = client_of(url, MIN_CONFIDENCE=0.0)
        ours = create(read_here)["taskId"]
        read_here.post("/reportIncorrectImageCaptcha", json={"clientKey": "bot", "taskId": ours})
        time.sleep(0.5)
    # ours: none
    assert [method for method, _body in calls] == ["createTask", "reportIncorrectImageCaptcha", "reportIncorrect"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"cost": "0.0007", "endTime": 5, "solveCount": 3}, Receipt(1, "0.0007", 5, 3)),
        ({"cost": 0.0007, "solveCount": "0"}, Receipt(1, "0.0007", None, 0)),
        ({"cost": "nan", "endTime": True, "solveCount": -1}, Receipt(1)),
        ({"cost": "9" * 900, "endTime": "5", "solveCount": "x"}, Receipt(1)),
        ({"cost": ["0"], "endTime": 2**60, "solveCount": 2.5}, Receipt(1)),
        ({"cost": "0.0007\n"}, Receipt(1)),
        ({"cost": "9e999"}, Receipt(1)),  # float() reads "0.0007\n": get2 would answer two lines
        ({"cost": " 1"}, Receipt(1)),
        ({"cost": "-0.5"}, Receipt(1)),
        ({"cost": "1_000"}, Receipt(1)),
        ({"cost": "\u0661"}, Receipt(1)),
        ({"cost": "1e-05"}, Receipt(1, "1e-05")),
        ({"cost": 1e-05}, Receipt(1, "1e-05")),
        ({"cost": 2}, Receipt(1, "2")),
    ],
)
def test_a_receipt_keeps_only_what_the_api_says_and_reads_back_from_its_text(answer, expected):
    receipt = Receipt.of_answer(1, answer)
    assert receipt == expected and Receipt.of_text(receipt.text()) == receipt
    assert (
        Receipt.of_text("") is None
        and Receipt.of_text('{"upstream_id": [1]}') is None
        and Receipt.of_text("not json") is None
    )


def raw(body):
    """A hostile_upstream ``answer`` of these bytes, with HTTP 200, to every call."""

    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


NESTED_TOO_DEEP = b"[" * 20_000 + b"]" * 20_000  # under LARGEST_ANSWER, deeper than json.loads can go (RecursionError)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(
            {"errorId": 0, "balance": 10**400}
        ).encode(),  # an int no float holds: math.isfinite raised OverflowError
        b'{"errorId": 0, "balance": ' + NESTED_TOO_DEEP + b"}",
        b'{"errorId": 1, "errorCode": ["ERROR_ZERO_BALANCE"]}',  # unhashable: ACCOUNT_ERRORS.get raised TypeError
    ],
    ids=["huge", "nested", "unhashable-code"],
)
def test_a_balance_answer_that_is_no_number_is_no_balance_never_a_500_nor_asked_again_at_each_poll(body):
    with hostile_upstream(raw(body)) as (url, asked):
        client = client_of(url)
        for _ in range(3):
            answer = client.post("/getBalance", json={"clientKey": "bot"})
            assert (answer.status_code, answer.json["errorCode"]) == (200, "ERROR_NO_SLOT_AVAILABLE")
        assert res_php(client, action="getbalance") == "ERROR_NO_SLOT_AVAILABLE"
    assert asked == ["/getBalance"]  # once, then BALANCE_RETRY_SECONDS apart


def test_an_upstream_answer_nested_too_deep_is_unsolvable_and_gives_its_slot_back():
    with hostile_upstream(raw(NESTED_TOO_DEEP)) as (url, _asked):
        client = client_of(url, UPSTREAM_CONCURRENCY=1)
        for _ in range(2):  # the second finds the one slot free again
            created = create(client)
            assert created["status"] == "processing"
            assert poll(client, created["taskId"], seconds=5)["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"


@pytest.mark.parametrize(
    "fields",
    [
        {"numeric": 1, "minLength": 9, "maxLength": 9},  # more digits than we pass on (LONGEST)
        {"numeric": 1, "minLength": 6, "maxLength": 4},
        {"numeric": 4, "minLength": 40},  # longer than any text we pass on (LONGEST_TEXT)
    ],
    ids=repr,
)
def test_a_task_whose_answer_we_would_never_pass_on_is_not_paid_for_upstream(fields):
    calls = []
    with hostile_upstream(answering({"createTask": READY}, calls)) as (url, _asked):
        client = client_of(url)
        task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), **fields}
        created = client.post("/createTask", json={"clientKey": "bot", "task": task}).json
        assert poll(client, created["taskId"])["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        legacy = {
            "min_len": fields.get("minLength", ""),
            "max_len": fields.get("maxLength", ""),
            "numeric": fields.get("numeric", ""),
        }
        task_id = in_php(client, **legacy).split("|")[1]
        assert poll(client, int(task_id))["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
        time.sleep(0.3)
    assert calls == []


def test_while_an_upstream_that_never_gave_a_balance_is_asked_again_bots_are_told_at_once_not_held(monkeypatch):
    """Only the very first ask is waited for: an upstream down or hanging would otherwise hold every bot asking the
    balance (and the server threads they are on) for a whole exchange at each renewal, every BALANCE_RETRY_SECONDS."""
    release, asked = threading.Event(), []

    def hanging(handler):
        asked.append(handler.path)
        if len(asked) > 1:
            release.wait(10)
        raw(b'{"errorId": 0}')(handler)  # no balance in it

    with hostile_upstream(hanging) as (url, _asked):
        app = client_of(url).application
        assert (
            app.test_client().post("/getBalance", json={"clientKey": "bot"}).json["errorCode"]
            == "ERROR_NO_SLOT_AVAILABLE"
        )
        monkeypatch.setattr(upstream_module, "BALANCE_RETRY_SECONDS", 0.0)
        renewal = threading.Thread(target=lambda: app.test_client().post("/getBalance", json={"clientKey": "bot"}))
        renewal.start()
        deadline = time.monotonic() + 5
        while len(asked) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        answered = []
        bot = threading.Thread(
            target=lambda: answered.append(app.test_client().post("/getBalance", json={"clientKey": "bot"}).json)
        )
        bot.start()
        bot.join(3)
        held = not answered
        release.set()
        renewal.join()
        bot.join()
    assert not held and answered[0]["errorCode"] == "ERROR_NO_SLOT_AVAILABLE"


@pytest.mark.parametrize(
    "task_id", [b"[" * 500 + b"]" * 500, b'{"a": 1}', b"true", b"1.5"], ids=["nested", "object", "bool", "float"]
)
def test_an_upstream_task_id_that_is_no_id_is_unsolvable_and_gives_its_slot_back(task_id):
    """Kept with the task (its handover, in JSON) it must be an id: a list 500 deep made that a RecursionError."""
    with hostile_upstream(raw(b'{"errorId": 0, "taskId": ' + task_id + b"}")) as (url, asked):
        client = client_of(url, UPSTREAM_CONCURRENCY=1)
        for _ in range(2):  # the second finds the one slot free again
            created = create(client)
            assert created["status"] == "processing"
            assert poll(client, created["taskId"], seconds=5)["errorCode"] == "ERROR_CAPTCHA_UNSOLVABLE"
    assert asked == ["/createTask"] * 2  # never polled for with it
