import threading
import time

from captcha_service import create_app
from captcha_service.api.admission import FairSlots
from captcha_service.api.extension import ocr
from tests.captchas import CAPTCHA_FILES, base64_of

BODY = {"image_base64": base64_of(CAPTCHA_FILES[0])}


def test_an_overloaded_service_answers_503_quickly():
    app = create_app({"READ_SLOTS": 1, "READ_WAIT_SECONDS": 0.05})
    slots = ocr.state(app).pool.slots
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


def test_freed_slots_go_to_the_longest_waiting_request_first():
    slots = FairSlots(1)
    assert slots.acquire(timeout=1)
    served = []

    def wait_then_hold(name):
        assert slots.acquire(timeout=5)
        served.append(name)
        slots.release()

    waiters = []
    for name in ("first", "second", "third"):
        waiter = threading.Thread(target=wait_then_hold, args=(name,))
        waiter.start()
        waiters.append(waiter)
        while len(slots._waiters) < len(waiters):  # each is queued before the next arrives
            time.sleep(0.001)
    slots.release()
    assert slots.acquire(timeout=5)  # a newcomer gets the slot only after every earlier waiter
    assert served == ["first", "second", "third"]
    slots.release()
    for waiter in waiters:
        waiter.join()


def test_a_waiter_that_times_out_leaves_the_slots_as_they_were():
    slots = FairSlots(1)
    assert slots.acquire(timeout=1)
    assert not slots.acquire(timeout=0.01)
    slots.release()
    assert slots.acquire(timeout=0.01) and not slots.acquire(timeout=0.01)
