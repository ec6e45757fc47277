"""/metrics, scraped as Prometheus would, after known traffic."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from captcha_service import create_app
from captcha_service.version import __version__
from tests.captchas import CAPTCHA_FILES, UNFAMILIAR, base64_of


@pytest.fixture(scope="module")
def scraped():
    client = create_app().test_client()
    client.post("/ocr", json={"image_base64": base64_of(CAPTCHA_FILES[0])})
    client.post("/ocr", json={"image_base64": base64_of(CAPTCHA_FILES[1])})
    client.post("/ocr", json={"image_base64": "not base64!"})
    client.post("/ocr", json={"image_base64": base64_of(CAPTCHA_FILES[0]), "min_confidence": 1})
    client.post("/ocr", json={"image_base64": base64_of(UNFAMILIAR)})
    client.get("/")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(scraped, name, **labels):
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_endpoint_and_status(scraped):
    assert value(scraped, "captcha_requests_total", endpoint="/ocr", status="200") == 2
    assert value(scraped, "captcha_requests_total", endpoint="/ocr", status="422") == 3
    assert value(scraped, "captcha_requests_total", endpoint="/", status="200") == 1


def test_refusals_are_counted_by_reason(scraped):
    assert value(scraped, "captcha_refusals_total", reason="bad_base64") == 1
    assert value(scraped, "captcha_refusals_total", reason="low_confidence") == 1
    assert value(scraped, "captcha_refusals_total", reason="unfamiliar") == 1


def test_latencies_and_confidences_are_observed(scraped):
    assert value(scraped, "captcha_request_seconds_count", endpoint="/ocr") == 5
    assert value(scraped, "captcha_reading_seconds_count") == 4  # the bad base64 never reached the engine
    assert value(scraped, "captcha_confidence_count") == 4
    assert value(scraped, "captcha_confidence_bucket", le="0.9") == 1  # the unfamiliar one; the other three read surely


def test_model_and_requests_in_flight(scraped):
    assert value(scraped, "captcha_model_info", model="digits+common", version=__version__) == 1
    assert value(scraped, "captcha_requests_in_flight") == 1  # the scrape itself


def test_sure_readings_are_counted_by_the_models_that_decided_them(scraped):
    stages = ("digits", "digits+common:view1", "digits+common")
    decided = {name: value(scraped, "captcha_readings_total", decided_by=name) for name in stages}
    assert sum(decided.values()) == 2  # the two answered reads; refusals are not readings


def test_the_process_own_memory_and_cpu_are_there_to_watch(scraped):
    assert value(scraped, "process_resident_memory_bytes") > 50e6  # the models are loaded
    assert value(scraped, "process_cpu_seconds_total") > 0
    assert any(name == "python_info" for name, _ in scraped)
    assert any(name == "python_gc_collections_total" for name, _ in scraped)
