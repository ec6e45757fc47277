"""KEY_RATE and KEY_CONCURRENCY: each key's reads are limited, in each protocol's words; other keys and keyless reads
are not."""

import pytest

from captcha_service import create_app
from captcha_service.api.quotas import OverQuota, Quotas
from tests.captchas import CAPTCHA_FILES, base64_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))


def test_a_key_over_its_rate_waits_for_the_next_second_and_others_go_on():
    now = [100.2]
    quotas = Quotas(rate=2, concurrency=0, clock=lambda: now[0])
    for _ in range(2):
        with quotas.admit("a"):
            pass
    with pytest.raises(OverQuota) as refused, quotas.admit("a"):
        pass
    assert refused.value.code == 429 and refused.value.retry_after == 1
    with quotas.admit("b"), quotas.admit(""):  # another key; no key at all
        pass
    now[0] = 101.0
    with quotas.admit("a"):
        pass


def test_a_key_over_its_reads_at_once_is_refused_until_one_ends():
    quotas = Quotas(rate=0, concurrency=2)
    with quotas.admit("a"), quotas.admit("a"):
        with pytest.raises(OverQuota, match="KEY_CONCURRENCY=2"), quotas.admit("a"):
            pass
    with quotas.admit("a"), quotas.admit("a"):  # both ended: room again
        pass


@pytest.fixture(scope="module")
def limited():
    return create_app({"API_KEYS": "key-a,key-b", "KEY_RATE": 1}).test_client()


def test_over_quota_is_429_with_retry_after_on_ocr_and_no_slot_on_the_protocols(limited):
    body = {"image_base64": base64_of(CAPTCHA)}
    answers = [limited.post("/ocr", json=body, headers={"X-API-Key": "key-a"}) for _ in range(3)]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused and refused[0].headers["Retry-After"] == "1" and "KEY_RATE=1" in refused[0].json["detail"]
    tasks = [
        limited.post(
            "/createTask", json={"clientKey": "key-b", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA)}}
        ).json
        for _ in range(3)
    ]
    assert any(task.get("errorCode") == "ERROR_NO_SLOT_AVAILABLE" and task["errorId"] == 2 for task in tasks)
