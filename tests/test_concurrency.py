"""Many clients at once against the real waitress server: every answer is the one a lone client gets."""

import base64
import io
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image

from deploy.local_server import running_server
from tests.captchas import CAPTCHA_FILES

REQUESTS = 240
CLIENTS = 16


def resized(path, factor):
    with Image.open(path) as image:
        image = image.convert("RGB")
        buffer = io.BytesIO()
        image.resize((round(image.width * factor), round(image.height * factor))).save(buffer, format="PNG")
    return buffer.getvalue()


def mixed_bodies():
    """Good captchas at several sizes, and bad inputs, as JSON bodies."""
    good = [
        {"image_base64": base64.b64encode(resized(path, factor)).decode()}
        for path in CAPTCHA_FILES
        for factor in (0.5, 1.0, 2.5)
    ]
    bad = [
        {"image_base64": "not base64 at all!"},
        {"image_base64": base64.b64encode(b"plain text, not an image").decode()},
        {"text": ""},
        {"image_base64": base64.b64encode(resized(CAPTCHA_FILES[0], 1.0)).decode(), "length": 6, "min_confidence": 0},
    ]
    return good + bad


def answer(session, url, body):
    response = session.post(url + "/ocr", json=body, timeout=60)
    return response.status_code, response.json()


def test_concurrent_answers_equal_single_threaded_answers(tmp_path):
    bodies = mixed_bodies()
    with running_server(tmp_path / "server.log", THREADS=CLIENTS, READ_WAIT_SECONDS=60) as (url, _, _, _):
        with requests.Session() as session:
            expected = [answer(session, url, body) for body in bodies]
        assignments = [index % len(bodies) for index in range(REQUESTS)]

        def one(index):
            with requests.Session() as session:
                return index, answer(session, url, bodies[index])

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(one, assignments))
    assert len(results) == REQUESTS
    assert all(status < 500 for _, (status, _) in results)
    mismatches = [index for index, got in results if got != expected[index]]
    assert mismatches == []
    assert {status for status, _ in expected} == {200, 422}
