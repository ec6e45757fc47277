import logging

import pytest

from captcha_service import create_app
from captcha_service.api.request_log import LOGGER_NAME
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

IMAGE = base64_of(CAPTCHA_FILES[0])


@pytest.fixture
def log_lines(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    logging.getLogger(LOGGER_NAME).addHandler(caplog.handler)
    yield lambda: [record.getMessage() for record in caplog.records if record.name == LOGGER_NAME]
    logging.getLogger(LOGGER_NAME).removeHandler(caplog.handler)


def fields_of(line):
    return dict(pair.split("=", 1) for pair in line.split(" "))


def test_a_read_logs_one_line_with_its_outcome_and_echoes_the_request_id(client, log_lines):
    response = client.post("/ocr", json={"image_base64": IMAGE}, headers={"X-Request-ID": "bot-7:run-42"})
    assert response.headers["X-Request-ID"] == "bot-7:run-42"
    (line,) = log_lines()
    fields = fields_of(line)
    assert fields["request_id"] == "bot-7:run-42"
    assert (fields["method"], fields["path"], fields["status"]) == ("POST", "/ocr", "200")
    assert fields["digits_length"] == str(len(label_of(CAPTCHA_FILES[0])))
    assert 0.9 <= float(fields["confidence"]) <= 1.0 and float(fields["latency_ms"]) > 0
    assert fields["decided_by"] in {"digits", "digits+common:view1", "digits+common"}  # the cascade's stage, by name
    assert IMAGE[:40] not in line and label_of(CAPTCHA_FILES[0]) not in line


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"image_base64": "not base64!"}, "bad_base64"),
        ({}, "invalid_request"),
        ({"image_base64": IMAGE, "min_confidence": 1}, "low_confidence"),
    ],
)
def test_a_refusal_logs_its_reason(client, log_lines, body, reason):
    assert client.post("/ocr", json=body).status_code == 422
    assert fields_of(log_lines()[-1])["reason"] == reason


def test_a_missing_or_strange_request_id_is_replaced(client):
    generated = client.get("/").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/", headers={"X-Request-ID": "a b\\nc"}).headers["X-Request-ID"] != "a b\\nc"
    assert client.get("/nowhere").headers["X-Request-ID"]


def test_api_keys_never_reach_the_log(log_lines):
    client = create_app({"API_KEYS": "s3cret-key"}).test_client()
    client.post("/ocr", json={"image_base64": IMAGE}, headers={"Authorization": "Bearer s3cret-key"})
    client.post("/ocr", json={"image_base64": IMAGE}, headers={"X-API-Key": "wrong-s3cret"})
    lines = log_lines()
    assert [fields_of(line)["status"] for line in lines] == ["200", "401"]
    assert fields_of(lines[1])["reason"] == "unauthorized"
    assert not any("s3cret" in line for line in lines)


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/%0Arequest_id=forged%20status=200", '"/\\nrequest_id=forged status=200"'),
        ("/%1B[2J%0D", '"/\\u001b[2J\\r"'),
        ("/a%22b", '"/a\\"b"'),
    ],
    ids=["newline", "escape-and-cr", "quote"],
)
def test_what_a_client_puts_in_the_path_cannot_forge_or_colour_a_log_line(client, log_lines, path, logged):
    client.get(path)
    (line,) = log_lines()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert f" path={logged} status=404 " in line
