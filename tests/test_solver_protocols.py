"""2captcha's legacy API and the createTask API, on the real engine: answers and every documented error."""

import base64
import io

import pytest
from PIL import Image

from captcha_service import create_app
from captcha_service.solver_protocols.errors import ERROR_IDS, error_text
from captcha_service.solver_protocols.tasks import TaskStore
from captcha_service.solver_protocols.twocaptcha import json_body
from tests.captchas import CAPTCHA_FILES, FIVE_DIGITS, UNFAMILIAR, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


def png_base64(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


BLANK = png_base64(Image.new("RGB", (160, 60), "white"))  # an image with no digits: unsolvable


@pytest.fixture(scope="module")
def keyed_client():
    return create_app({"API_KEYS": "bot-key"}).test_client()


# ---------------------------------------------------------------- 2captcha legacy: in.php / res.php


def submit(client, **fields):
    return client.post("/in.php", data={"key": "any", "method": "base64", **fields})


def test_in_php_base64_then_res_php_answers_the_digits(client):
    sent = submit(client, body=base64_of(CAPTCHA))
    assert sent.status_code == 200 and sent.mimetype == "text/plain"
    status, task_id = sent.get_data(as_text=True).split("|")
    assert status == "OK" and task_id.isdigit()
    answer = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id})
    assert answer.get_data(as_text=True) == f"OK|{label_of(CAPTCHA)}"


def test_in_php_reads_a_base64_body_whose_plus_signs_came_unencoded(client):
    encoded = base64_of(CAPTCHA)
    assert "+" in encoded
    # as `curl -d "body=$B64"` sends it: a form's '+' is a space once decoded
    sent = client.post(
        "/in.php", data=f"key=any&method=base64&body={encoded}", content_type="application/x-www-form-urlencoded"
    )
    status, task_id = sent.get_data(as_text=True).split("|")
    answer = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id})
    assert status == "OK" and answer.get_data(as_text=True) == f"OK|{label_of(CAPTCHA)}"


def test_in_php_multipart_file_with_json_answers(client):
    sent = client.post(
        "/in.php",
        data={"key": "any", "method": "post", "json": "1", "file": (CAPTCHA.open("rb"), CAPTCHA.name)},
        content_type="multipart/form-data",
    )
    assert sent.json["status"] == 1
    answer = client.get(
        "/res.php", query_string={"key": "any", "action": "get", "id": sent.json["request"], "json": "1"}
    )
    assert answer.json == {"status": 1, "request": label_of(CAPTCHA)}


@pytest.mark.parametrize(
    "query, body",
    [
        ({}, {"key": "any", "method": "base64", "body": None, "json": 1}),  # @2captcha/captcha-solver
        ({"key": "any", "method": "base64", "json": "1"}, {"body": None}),  # npm 2captcha
        ({"json": "1"}, {"key": "any", "method": "base64", "body": None, "numeric": 1, "min_len": 4, "max_len": 4}),
    ],
    ids=["all-in-json", "key-in-query", "numbers-in-json"],
)
def test_in_php_takes_a_json_body_as_2captchas_javascript_clients_send_it(client, query, body):
    sent = client.post("/in.php", query_string=query, json={**body, "body": base64_of(CAPTCHA)})
    assert sent.json["status"] == 1, sent.json
    answer = client.get(
        "/res.php", query_string={"key": "any", "action": "get", "id": sent.json["request"], "json": "1"}
    )
    assert answer.json == {"status": 1, "request": label_of(CAPTCHA)}


@pytest.mark.parametrize("where", ["query", "form"])
def test_header_acao_lets_a_page_of_any_origin_read_the_answer(client, where):
    fields = {"key": "any", "method": "base64", "body": base64_of(CAPTCHA), "header_acao": "1"}
    sent = client.post("/in.php", **({"query_string": fields} if where == "query" else {"data": fields}))
    assert sent.headers["Access-Control-Allow-Origin"] == "*"
    task_id = sent.get_data(as_text=True).split("|")[1]
    polled = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id, "header_acao": "1"})
    assert polled.headers["Access-Control-Allow-Origin"] == "*"
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id}).headers
    )


def test_in_php_json_bodies_that_say_nothing_usable_are_its_errors(client):
    assert client.post("/in.php", json={"key": "any", "method": "base64", "body": {"nested": 1}, "json": 1}).json == {
        "status": 0,
        "request": "ERROR_ZERO_CAPTCHA_FILESIZE",
        "error_text": error_text("ERROR_ZERO_CAPTCHA_FILESIZE"),
    }
    assert client.post("/in.php", json=["key", "any"]).get_data(as_text=True) == "ERROR_WRONG_USER_KEY"
    nested = "[" * 100_000 + "]" * 100_000
    too_deep = client.post("/in.php", data=nested, content_type="application/json")
    assert (too_deep.status_code, too_deep.get_data(as_text=True)) == (200, "ERROR_BAD_PARAMETERS")


def test_a_data_url_body_and_equal_min_and_max_len_read_that_many_digits(client):
    sent = submit(client, body="data:image/jpeg;base64," + base64_of(CAPTCHA), min_len="4", max_len="4", numeric="1")
    task_id = sent.get_data(as_text=True).split("|")[1]
    assert client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id}).get_data(
        as_text=True
    ) == "OK|" + label_of(CAPTCHA)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"body": ""}, "ERROR_ZERO_CAPTCHA_FILESIZE"),
        ({"body": "not base64 at all!"}, "ERROR_IMAGE_TYPE_NOT_SUPPORTED"),
        ({"body": base64.b64encode(b"GIF89a but not really").decode()}, "ERROR_IMAGE_TYPE_NOT_SUPPORTED"),
        ({"body": base64.b64encode(b"\xff\xd8" + b"\0" * 1_100_000).decode()}, "ERROR_TOO_BIG_CAPTCHA_FILESIZE"),
        ({"method": "userrecaptcha", "body": "x"}, "ERROR_BAD_PARAMETERS"),
        ({"method": "post"}, "ERROR_ZERO_CAPTCHA_FILESIZE"),
    ],
    ids=["empty", "not-base64", "not-an-image", "too-big-image", "other-method", "post-without-file"],
)
def test_in_php_refuses_as_2captcha_does_with_http_200(client, fields, error):
    for json_flag in ("0", "1"):
        answer = submit(client, json=json_flag, **fields)
        assert answer.status_code == 200
        if json_flag == "1":
            assert answer.json == {"status": 0, "request": error, "error_text": error_text(error)}
        else:
            assert answer.get_data(as_text=True) == error


def test_a_body_over_the_request_limit_is_too_big_not_413(client):
    answer = client.post("/in.php?json=1", data={"key": "any", "method": "base64", "body": "A" * (3 * 1024 * 1024)})
    assert (
        answer.status_code == 200
        and answer.json["status"] == 0
        and answer.json["request"] == "ERROR_TOO_BIG_CAPTCHA_FILESIZE"
    )
    assert answer.json["error_text"] == error_text("ERROR_TOO_BIG_CAPTCHA_FILESIZE")


def test_json_errors_say_their_text_as_2captcha_does_which_rucaptcha_2captcha_makes_its_message(client):
    """2captcha's json=1 errors carry ``error_text`` beside the code; rucaptcha-2captcha (npm) throws
    ``new Error(data.error_text)`` named by the code: without it, its bots log an empty message."""
    polled = client.get("/res.php", query_string={"key": "any", "action": "get", "id": "123", "json": "1"}).json
    assert polled["status"] == 0 and polled["request"] == "ERROR_WRONG_CAPTCHA_ID"
    assert (
        isinstance(polled["error_text"], str)
        and 0 < len(polled["error_text"]) <= 120
        and polled["error_text"].isascii()
    )
    no_key = client.get("/res.php", query_string={"action": "getbalance", "json": "1"}).json
    assert no_key["request"] == "ERROR_WRONG_USER_KEY" and no_key["error_text"] == error_text("ERROR_WRONG_USER_KEY")
    # plain text: the code alone, as ever
    assert submit(client, body="").get_data(as_text=True) == "ERROR_ZERO_CAPTCHA_FILESIZE"
    assert json_body("CAPCHA_NOT_READY", ok=False) == {"status": 0, "request": "CAPCHA_NOT_READY"}  # no error: no text
    codes = [*ERROR_IDS, "ERROR_DUPLICATE_REPORT", "IP_BANNED"]
    assert len({error_text(code) for code in codes}) > len(codes) // 2 and all(error_text(code) for code in codes)
    assert error_text("ERROR_SOMETHING_NEW")  # a code without a text of its own still has one


def test_an_image_we_cannot_read_surely_is_unsolvable_when_polled(client):
    task_id = submit(client, body=BLANK).get_data(as_text=True).split("|")[1]
    answer = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id})
    assert answer.get_data(as_text=True) == "ERROR_CAPTCHA_UNSOLVABLE"


def test_letters_only_or_an_impossible_length_is_unsolvable_without_reading(client):
    for fields in ({"numeric": "2"}, {"min_len": "9"}, {"max_len": "2"}):
        task_id = submit(client, body=base64_of(CAPTCHA), **fields).get_data(as_text=True).split("|")[1]
        answer = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id})
        assert answer.get_data(as_text=True) == "ERROR_CAPTCHA_UNSOLVABLE", fields


def test_res_php_ids_balance_and_reports(client):
    task_id = submit(client, body=base64_of(CAPTCHA)).get_data(as_text=True).split("|")[1]

    def res(**query):
        return client.get("/res.php", query_string={"key": "any", **query}).get_data(as_text=True)

    assert res(action="get", id="12345") == "ERROR_WRONG_CAPTCHA_ID"
    assert res(action="get", id="abc") == res(action="get") == "ERROR_WRONG_ID_FORMAT"
    assert float(res(action="getbalance")) > 0
    other_id = submit(client, body=base64_of(CAPTCHA)).get_data(as_text=True).split("|")[1]
    assert res(action="reportgood", id=task_id) == res(action="reportbad", id=other_id) == "OK_REPORT_RECORDED"
    assert res(action="reportbad", id=task_id) == res(action="reportgood", id=other_id) == "ERROR_DUPLICATE_REPORT"
    assert res(action="reportbad", id="12345") == "ERROR_WRONG_CAPTCHA_ID"
    assert res(action="nosuchaction", id=task_id) == "ERROR_BAD_PARAMETERS"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'captcha_reports_total{verdict="right"}' in metrics and 'captcha_reports_total{verdict="wrong"}' in metrics


def test_res_php_get2_gives_the_price_and_ids_answer_several_in_order(client):
    read = submit(client, body=base64_of(CAPTCHA)).get_data(as_text=True).split("|")[1]
    refused = submit(client, body=BLANK).get_data(as_text=True).split("|")[1]

    def res(**query):
        return client.get("/res.php", query_string={"key": "any", **query})

    assert res(action="get2", id=read).get_data(as_text=True) == f"OK|{label_of(CAPTCHA)}|0"
    assert res(action="get2", id=read, json="1").json == {"status": 1, "request": label_of(CAPTCHA), "price": "0"}
    assert res(action="get2", id=refused).get_data(as_text=True) == "ERROR_CAPTCHA_UNSOLVABLE"
    ids = ",".join([read, "12345", refused, "x", read])
    expected = (
        f"{label_of(CAPTCHA)}|ERROR_WRONG_CAPTCHA_ID|ERROR_CAPTCHA_UNSOLVABLE|ERROR_WRONG_ID_FORMAT|{label_of(CAPTCHA)}"
    )
    assert res(action="get", ids=ids).get_data(as_text=True) == expected
    assert res(action="get", ids=ids, json="1").json == {"status": 1, "request": expected}
    assert res(action="get", ids=",".join([read] * 101)).get_data(as_text=True) == "ERROR_BAD_PARAMETERS"


def test_with_api_keys_only_a_known_key_submits_or_polls_and_only_its_own_tasks(keyed_client):
    def sent(**fields):
        return keyed_client.post("/in.php", data={"method": "base64", "body": base64_of(CAPTCHA), **fields}).get_data(
            as_text=True
        )

    def polled(**query):
        return keyed_client.get("/res.php", query_string=query).get_data(as_text=True)

    assert sent(key="wrong") == "ERROR_KEY_DOES_NOT_EXIST" and sent() == "ERROR_WRONG_USER_KEY"
    assert polled(key="wrong", action="getbalance") == "ERROR_KEY_DOES_NOT_EXIST"
    task_id = sent(key="bot-key").split("|")[1]
    assert polled(key="bot-key", action="get", id=task_id) == "OK|" + label_of(CAPTCHA)
    assert polled(key="wrong", action="get", id=task_id) == "ERROR_KEY_DOES_NOT_EXIST"


def test_no_read_slot_free_is_no_slot_available(client, app, monkeypatch):
    from werkzeug.exceptions import ServiceUnavailable

    from captcha_service.api.extension import ocr

    def busy(*arguments, **options):
        raise ServiceUnavailable("busy")

    monkeypatch.setattr(ocr.state(app).pool, "run", busy)
    assert submit(client, body=base64_of(CAPTCHA)).get_data(as_text=True) == "ERROR_NO_SLOT_AVAILABLE"
    answer = client.post(
        "/createTask", json={"clientKey": "k", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    )
    assert answer.json["errorId"] == 2 and answer.json["errorCode"] == "ERROR_NO_SLOT_AVAILABLE"


# ---------------------------------------------------------------- createTask / getTaskResult


def create(client, task=None, **fields):
    return client.post(
        "/createTask",
        json={"clientKey": "any", "task": task or {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}, **fields},
    )


def test_create_task_answers_at_once_and_get_task_result_agrees(client):
    created = create(client, softId=847, languagePool="en").json  # unknown fields are ignored
    assert created["errorId"] == 0 and created["status"] == "ready"
    assert created["solution"] == {"text": label_of(CAPTCHA)}
    result = client.post("/getTaskResult", json={"clientKey": "any", "taskId": created["taskId"]}).json
    assert result["errorId"] == 0 and result["status"] == "ready" and result["solution"]["text"] == label_of(CAPTCHA)


def test_create_task_with_a_data_url_and_lengths(client):
    task = {
        "type": "ImageToTextTask",
        "body": "data:image/jpeg;base64," + base64_of(CAPTCHA),
        "numeric": 1,
        "minLength": 4,
        "maxLength": 4,
        "case": False,
    }
    assert create(client, task).json["solution"]["text"] == label_of(CAPTCHA)


def test_a_range_of_lengths_reads_as_many_digits_as_the_captcha_shows(client):
    # the range's bound nearest four was read: this captcha was answered 6462, at 0.97
    for path, digits in ((FIVE_DIGITS, label_of(FIVE_DIGITS)), (CAPTCHA, label_of(CAPTCHA))):
        task = {"type": "ImageToTextTask", "body": base64_of(path), "numeric": 1, "minLength": 4, "maxLength": 6}
        assert create(client, task).json["solution"] == {"text": digits}
    task_id = submit(client, body=base64_of(FIVE_DIGITS), min_len="4", max_len="6").get_data(as_text=True).split("|")[1]
    answer = client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id})
    assert answer.get_data(as_text=True) == f"OK|{label_of(FIVE_DIGITS)}"


@pytest.mark.parametrize(
    ("task", "error_id", "code"),
    [
        ({"type": "ImageToTextTask", "body": ""}, 3, "ERROR_ZERO_CAPTCHA_FILESIZE"),
        ({"type": "ImageToTextTask"}, 3, "ERROR_ZERO_CAPTCHA_FILESIZE"),
        (
            {"type": "ImageToTextTask", "body": base64.b64encode(b"\xff\xd8" + b"\0" * 1_100_000).decode()},
            4,
            "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
        ),
        (
            {"type": "ImageToTextTask", "body": base64.b64encode(b"plain text").decode()},
            15,
            "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
        ),
        ({"type": "RecaptchaV2TaskProxyless", "websiteURL": "https://example.com"}, 23, "ERROR_TASK_NOT_SUPPORTED"),
        ("not an object", 22, "ERROR_TASK_ABSENT"),
    ],
    ids=["empty-body", "no-body", "too-big", "not-an-image", "other-type", "task-not-an-object"],
)
def test_create_task_errors_carry_their_ids(client, task, error_id, code):
    answer = create(client, task)
    assert answer.status_code == 200
    assert answer.json["errorId"] == error_id and answer.json["errorCode"] == code and answer.json["errorDescription"]


def test_malformed_json_oversize_bodies_and_missing_tasks(client):
    assert (
        client.post("/createTask", data="{not json", content_type="application/json").json["errorCode"]
        == "ERROR_TASK_ABSENT"
    )
    assert client.post("/createTask", json={"clientKey": "any"}).json["errorId"] == 22
    huge = client.post(
        "/createTask",
        data='{"clientKey": "any", "task": {"body": "' + "A" * (3 * 1024 * 1024) + '"}}',
        content_type="application/json",
    )
    assert huge.status_code == 200 and huge.json["errorId"] == 4


def test_an_unsure_reading_is_error_12_on_get_task_result(client):
    created = create(client, {"type": "ImageToTextTask", "body": BLANK}).json
    # CapSolver's SDK reads it
    assert created["errorId"] == 0 and "solution" not in created and created["status"] == "failed"
    result = client.post("/getTaskResult", json={"clientKey": "any", "taskId": created["taskId"]}).json
    assert (result["errorId"], result["errorCode"]) == (12, "ERROR_CAPTCHA_UNSOLVABLE")


@pytest.mark.parametrize("path", ["/getQueueStats", "/getAppStats", "/feedbackTask/"])
def test_methods_we_do_not_serve_are_no_such_method_not_404(client, path):
    answer = client.post(path, json={"clientKey": "any", "queueId": 2})
    assert answer.status_code == 200
    assert (answer.json["errorId"], answer.json["errorCode"]) == (14, "ERROR_NO_SUCH_METHOD")


def test_a_task_id_sent_back_as_text_is_the_same_task(client):
    created = client.post(
        "/createTask", json={"clientKey": "any", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    )
    polled = client.post("/getTaskResult", json={"clientKey": "any", "taskId": str(created.json["taskId"])})
    assert polled.json["solution"]["text"] == label_of(CAPTCHA)
    for hostile in (f" {created.json['taskId']}", "1e3", "١٢٣", "9" * 400, True):
        answer = client.post("/getTaskResult", json={"clientKey": "any", "taskId": hostile})
        assert answer.json["errorCode"] == "ERROR_NO_SUCH_CAPCHA_ID", hostile


def test_a_second_report_on_one_task_is_not_counted_again(client):
    def wrong_reports():
        metrics = client.get("/metrics").get_data(as_text=True)
        return float(
            next(
                line.split()[-1]
                for line in metrics.splitlines()
                if line.startswith('captcha_reports_total{verdict="wrong"}')
            )
        )

    task_id = create(client).json["taskId"]
    assert client.post("/reportIncorrect", json={"clientKey": "any", "taskId": task_id}).json == {
        "errorId": 0,
        "status": "success",
    }
    counted = wrong_reports()
    for path in ("/reportIncorrect", "/reportIncorrectImageCaptcha", "/reportCorrect"):
        assert client.post(path, json={"clientKey": "any", "taskId": task_id}).json == {
            "errorId": 0,
            "status": "success",
        }
    assert wrong_reports() == counted


def test_a_trailing_slash_is_the_same_method(client):
    created = client.post(
        "/createTask/", json={"clientKey": "any", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
    )
    assert created.json["solution"]["text"] == label_of(CAPTCHA)
    polled = client.post("/getTaskResult/", json={"clientKey": "any", "taskId": created.json["taskId"]})
    assert polled.json["solution"]["text"] == label_of(CAPTCHA)
    assert client.post("/ocr/nothing", json={}).json.keys() == {"detail"}  # the rest of the service keeps its 404


def test_unknown_task_ids_balance_and_reports(client):
    task_id = create(client).json["taskId"]
    for path in ("/getTaskResult", "/reportIncorrectImageCaptcha", "/reportCorrect", "/reportIncorrect"):
        assert client.post(path, json={"clientKey": "any", "taskId": 123456789}).json["errorId"] == 16, path
        assert client.post(path, json={"clientKey": "any", "taskId": f"id-{task_id}"}).json["errorId"] == 16, path
    for path in ("/reportIncorrectImageCaptcha", "/reportCorrect", "/reportIncorrect"):
        assert client.post(path, json={"clientKey": "any", "taskId": task_id}).json == {
            "errorId": 0,
            "status": "success",
        }
    assert client.post("/getBalance", json={"clientKey": "any"}).json["balance"] > 0


def test_create_task_keys(keyed_client):
    body = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}
    for key in ("wrong", None, 42):
        answer = keyed_client.post("/createTask", json={"clientKey": key, "task": body}).json
        assert (answer["errorId"], answer["errorCode"]) == (1, "ERROR_KEY_DOES_NOT_EXIST")
    task_id = keyed_client.post("/createTask", json={"clientKey": "bot-key", "task": body}).json["taskId"]
    assert keyed_client.post("/getTaskResult", json={"clientKey": "wrong", "taskId": task_id}).json["errorId"] == 1
    assert keyed_client.post("/getBalance", json={"clientKey": "wrong"}).json["errorId"] == 1


# ---------------------------------------------------------------- the task store


def test_the_task_store_forgets_by_count_and_by_age():
    now = [1000.0]
    store = TaskStore(size=3, ttl=60, clock=lambda: now[0])
    tasks = [store.add("k", f"request-{index}", digits=str(index) * 4) for index in range(4)]
    assert store.get(tasks[0].id, "k") is None  # the oldest of four, over the count
    assert store.get(tasks[3].id, "k").digits == "3333"
    assert store.get(tasks[3].id, "other") is None
    now[0] += 61
    assert store.get(tasks[3].id, "k") is None
    assert len({task.id for task in tasks}) == 4 and all(10**14 <= task.id < 2**53 for task in tasks)


@pytest.mark.parametrize(
    ("knob", "value", "status"),
    [
        ("recognizingThreshold", 100, "failed"),
        ("score", 1.0, "failed"),  # nothing is that sure: unsolvable, as the vendors answer
        ("recognizingThreshold", 50, "ready"),
        ("score", 0.8, "ready"),
        ("recognizingThreshold", "99", "failed"),  # a number written as text is that number
        ("numeric", "2", "failed"),  # letters only: no digits to read
    ],
)
def test_capmonster_and_capsolver_thresholds_raise_the_confidence_floor(client, knob, value, status):
    assert create(client, {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), knob: value}).json["status"] == status


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("recognizingThreshold", "high"),
        ("recognizingThreshold", 200),
        ("score", 5),
        ("score", True),
        ("score", "nan"),
        ("numeric", "two"),
        ("numeric", 1.5),
        ("minLength", -4),
        ("math", "maybe"),
        ("phrase", 2),
        ("case", 0.5),
    ],
)
def test_an_option_that_is_no_value_it_can_take_is_a_bad_parameter_not_ignored(client, knob, value):
    # ignored, a threshold of 0.99 written wrongly let an answer of 0.97 through
    created = create(client, {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), knob: value}).json
    assert created["errorCode"] == "ERROR_BAD_PARAMETERS" and knob in created["errorDescription"]


@pytest.mark.parametrize("knob", ["math", "phrase"])
def test_a_sum_or_a_phrase_is_no_number_to_read_and_unsolvable_without_an_upstream(client, knob):
    created = create(client, {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), knob: True}).json
    assert created["status"] == "failed"
    assert client.post("/getTaskResult", json={"clientKey": "any", "taskId": created["taskId"]}).json["errorId"] == 12
    field = {"math": "calc", "phrase": "phrase"}[knob]
    task_id = submit(client, body=base64_of(CAPTCHA), **{field: "1"}).get_data(as_text=True).split("|")[1]
    assert (
        client.get("/res.php", query_string={"key": "any", "action": "get", "id": task_id}).get_data(as_text=True)
        == "ERROR_CAPTCHA_UNSOLVABLE"
    )
    for written_as_no in (False, 0, "false", "0", "", None):  # "false" was taken as set, being no empty text
        task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), knob: written_as_no}
        assert create(client, task).json["status"] == "ready"
    assert submit(client, body=base64_of(CAPTCHA), **{field: "0"}).get_data(as_text=True).startswith("OK|")


@pytest.mark.parametrize(("field", "value"), [("numeric", "two"), ("min_len", "-1"), ("calc", "2"), ("phrase", "yes")])
def test_an_in_php_field_that_is_no_value_it_can_take_is_a_bad_parameter_not_ignored(client, field, value):
    # ignored, numeric=two read as no numeric at all
    assert submit(client, body=base64_of(CAPTCHA), **{field: value}).get_data(as_text=True) == "ERROR_BAD_PARAMETERS"


def test_a_low_threshold_never_lowers_the_floor(client):
    unsure = create(client, {"type": "ImageToTextTask", "body": base64_of(UNFAMILIAR)}).json
    assert unsure["status"] == "failed"
    assert (
        create(client, {"type": "ImageToTextTask", "body": base64_of(UNFAMILIAR), "recognizingThreshold": 1}).json[
            "status"
        ]
        == "failed"
    )


def test_confirming_a_task_we_refused_counts_a_refusal_never_a_right_answer(client):
    def counted():
        lines = client.get("/metrics").get_data(as_text=True).splitlines()
        return {
            line.split('"')[1]: float(line.split()[-1]) for line in lines if line.startswith("captcha_reports_total{")
        }

    refused = create(client, {"type": "ImageToTextTask", "body": BLANK}).json
    before = counted()
    client.post("/reportCorrect", json={"clientKey": "any", "taskId": refused["taskId"]})
    after = counted()
    assert after.get("right", 0) == before.get("right", 0) and after["refused"] == before.get("refused", 0) + 1
