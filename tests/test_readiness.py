"""A server is up before it is ready: GET / says "starting" (503) until the model is loaded and warmed."""

import threading
import time

import pytest

from captcha_service import create_app
from captcha_service.ocr.pipeline import CaptchaPipeline
from tests.captchas import CAPTCHA_FILES, base64_of, label_of


def test_up_before_ready_then_ready(monkeypatch):
    release = threading.Event()
    load = CaptchaPipeline.from_config.__func__

    def slow_load(cls, config):
        assert release.wait(timeout=30)
        return load(cls, config)

    monkeypatch.setattr(CaptchaPipeline, "from_config", classmethod(slow_load))
    client = create_app(load_model_in_background=True).test_client()

    starting = client.get("/")
    assert starting.status_code == 503
    assert (starting.json["status"], starting.json["ready"]) == ("starting", False)
    refused = client.post("/ocr", json={"image_base64": base64_of(CAPTCHA_FILES[0])})
    assert refused.status_code == 503 and refused.json["detail"].startswith("starting")
    assert refused.headers["Retry-After"] == "1"

    release.set()
    deadline = time.monotonic() + 30
    while client.get("/").status_code != 200:
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.05)
    assert client.get("/").json["ready"] is True
    assert client.post("/ocr", json={"image_base64": base64_of(CAPTCHA_FILES[0])}).json["digits"] == label_of(
        CAPTCHA_FILES[0]
    )


def test_an_unknown_model_still_fails_the_start_up_at_once():
    with pytest.raises(ValueError, match="unknown OCR model 'common_new'"):
        create_app({"OCR_MODEL": "common_new"}, load_model_in_background=True)
