import time

from captcha_service import create_app
from captcha_service.admission import SLOTS_EXTENSION
from conftest import CAPTCHA_FILES, base64_of

BODY = {"image_base64": base64_of(CAPTCHA_FILES[0])}


def test_an_overloaded_service_answers_503_quickly():
    app = create_app({"READ_SLOTS": 1, "READ_WAIT_SECONDS": 0.05})
    slots = app.extensions[SLOTS_EXTENSION]
    assert slots.acquire(timeout=1)  # a read in progress holds the only slot
    try:
        started = time.monotonic()
        response = app.test_client().post("/ocr", json=BODY)
        waited = time.monotonic() - started
    finally:
        slots.release()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "busy" in response.json["detail"]
    assert waited < 1.0
    assert app.test_client().post("/ocr", json=BODY).status_code == 200
