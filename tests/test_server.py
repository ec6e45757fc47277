"""End to end: the real waitress server from wsgi.py, over HTTP on loopback."""

import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from bench.hostile_corpus import progressive_jpeg_with_scans
from captcha_service.api.serving import warn_if_no_proxy_in_front
from deploy.local_server import ROOT, running_server
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

BODY_LIMIT = 64 * 1024


PAGE = "https://bot.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python wsgi.py`` on a free port, with a small body limit, that a page at PAGE may read; yields (base url,
    port)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running_server(log, MAX_CONTENT_LENGTH=BODY_LIMIT, CORS_ORIGINS=PAGE) as (url, port, _, _):
        yield url, port


def test_health(server):
    url, _ = server
    assert requests.get(url + "/", timeout=5).json()["status"] == "ok"


@pytest.mark.parametrize("path", CAPTCHA_FILES[:3], ids=lambda path: path.name)
def test_reads_a_captcha_over_http(server, path):
    url, _ = server
    response = requests.post(url + "/ocr", json={"image_base64": base64_of(path)}, timeout=10)
    assert response.status_code == 200
    assert response.json()["digits"] == label_of(path)
    assert response.json()["number"] == int(label_of(path))


@pytest.mark.parametrize("size", [BODY_LIMIT + 1, 4 * BODY_LIMIT])
def test_oversize_body_is_413_json_from_waitress_too(server, size):
    url, _ = server
    body = json.dumps({"image_base64": "A" * size})
    response = requests.post(
        url + "/ocr", data=body, headers={"Content-Type": "application/json", "Origin": PAGE}, timeout=10
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert "Too Large" in response.json()["detail"]
    assert response.headers["Access-Control-Allow-Origin"] == PAGE  # the page can read why, as it can the app's answers
    other = requests.post(
        url + "/ocr",
        data=body,
        headers={"Content-Type": "application/json", "Origin": "https://other.example"},
        timeout=10,
    )
    assert other.status_code == 413 and "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/createTask", {"errorId": 4, "errorCode": "ERROR_TOO_BIG_CAPTCHA_FILESIZE"}),
        ("/getTaskResult", {"errorId": 4, "errorCode": "ERROR_TOO_BIG_CAPTCHA_FILESIZE"}),
        ("/in.php?json=1", {"status": 0, "request": "ERROR_TOO_BIG_CAPTCHA_FILESIZE"}),
        ("/in.php", "ERROR_TOO_BIG_CAPTCHA_FILESIZE"),
    ],
)
def test_an_oversize_body_refused_by_waitress_is_too_big_in_the_protocols_words(server, path, answer):
    url, _ = server
    response = requests.post(
        url + path, data=b"x" * 4 * BODY_LIMIT, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
    if isinstance(answer, str):
        assert response.text == answer
    else:
        assert {name: response.json()[name] for name in answer} == answer


def test_a_body_at_the_limit_reaches_the_app(server):
    url, _ = server
    body = json.dumps({"image_base64": "A"}).ljust(BODY_LIMIT)
    response = requests.post(url + "/ocr", data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 422


def test_malformed_http_is_400_json(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
        answer = connection.makefile("rb").read().decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400")
    assert "Content-Type: application/json" in head
    assert json.loads(body)["detail"].startswith("Bad Request")


def ignore_sigint():
    """What a background job of a shell, or nohup's, inherits: SIGINT ignored (PM2 stops with SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop", "preexec_fn"),
    [(signal.SIGTERM, None), (signal.SIGINT, None), (signal.SIGINT, ignore_sigint)],
    ids=["sigterm", "sigint", "sigint-ignored-by-the-parent"],
)
def test_a_stop_signal_lets_the_read_in_flight_finish(tmp_path, stop, preexec_fn):
    # A large progressive JPEG within the limits: its read takes long enough to be in flight.
    body = {"image_base64": base64.b64encode(progressive_jpeg_with_scans(20)).decode()}
    with running_server(tmp_path / "server.log", preexec_fn=preexec_fn) as (url, _, process, _):
        answers = []
        client = threading.Thread(target=lambda: answers.append(requests.post(url + "/ocr", json=body, timeout=30)))
        client.start()
        time.sleep(0.05)
        process.send_signal(stop)
        client.join()
        assert process.wait(timeout=30) == 0
    assert answers[0].status_code == 422 and "no reading" in answers[0].json()["detail"]


@pytest.mark.parametrize(
    ("host", "proxy", "warns"), [("0.0.0.0", "", True), ("0.0.0.0", "127.0.0.1", False), ("127.0.0.1", "", False)]
)
def test_listening_beyond_loopback_with_no_proxy_in_front_is_warned_about(caplog, host, proxy, warns):
    with caplog.at_level(logging.WARNING):
        warn_if_no_proxy_in_front(
            logging.getLogger("test"), {"HOST": host, "TRUSTED_PROXY": proxy, "CONNECTION_LIMIT": 64}
        )
    assert ("slowloris" in caplog.text) is warns


def test_the_server_says_where_it_listens_and_a_taken_port_is_one_line(tmp_path):
    with running_server(tmp_path / "first.log", stderr_path=tmp_path / "problems.log", READ_SLOTS=3) as (
        url,
        port,
        _,
        _,
    ):
        requests.get(url + "/", timeout=10)
        requests.post(url + "/ocr", json={"image_base64": "not base64!"}, timeout=10)
        output = (tmp_path / "first.log").read_text()
        assert (
            f"captcha-ocr: listening on http://127.0.0.1:{port} "
            "(3 read slots, OCR_MODEL digits+common, MIN_CONFIDENCE 0.9)\n" in output
        )
        assert "path=/ status=200" in output and "path=/ocr status=422" in output  # traffic on standard output
        assert "request_id=" not in (tmp_path / "problems.log").read_text()  # PM2's error log: problems only
        second = subprocess.run(
            [sys.executable, "wsgi.py"],
            cwd=ROOT,
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert second.returncode == 2  # a setting to fix, not an abort (it was 134)
    assert second.stderr == f"captcha-ocr: cannot listen on 127.0.0.1:{port}: Address already in use\n"
