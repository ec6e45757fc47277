"""Prometheus metrics at ``GET /metrics``, in a registry of the app's own (no global state)."""

import time

from flask import Blueprint, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from ..version import __version__
from .outcome import current_outcome

METRICS_EXTENSION = "captcha_ocr_metrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONFIDENCE_BUCKETS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0)
RIGHT, WRONG, REFUSED = "right", "wrong", "refused"  # the verdicts of clients' reports

bp = Blueprint("metrics", __name__)


class Metrics:
    """The service's metrics, registered in ``registry``."""

    def __init__(self, registry, model):
        self.registry = registry
        self.requests = Counter(
            "captcha_requests", "Requests by endpoint and status.", ["endpoint", "status"], registry=registry
        )
        self.refusals = Counter("captcha_refusals", "Refused requests by reason.", ["reason"], registry=registry)
        self.request_seconds = Histogram(
            "captcha_request_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.reading_seconds = Histogram(
            "captcha_reading_seconds",
            "Time to read one image (decoding, models, CTC).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.readings = Counter(
            "captcha_readings",
            "Sure readings by the models that decided them (the cascade's 'digits' alone, or both).",
            ["decided_by"],
            registry=registry,
        )
        self.confidence = Histogram(
            "captcha_confidence",
            "Confidence of readings, answered or refused.",
            buckets=CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self.reports = Counter(
            "captcha_reports",
            "Clients' first reports on earlier answers: right, wrong, or on a refusal (refused).",
            ["verdict"],
            registry=registry,
        )
        self.in_flight = Gauge("captcha_requests_in_flight", "Requests being handled.", registry=registry)
        # The process's own series (resident memory, CPU seconds, open files; Python's GC and version), as
        # prometheus-client gives its default registry: PM2 restarts at max_memory_restart, and this shows it coming.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("captcha_model", "The OCR model in use.", registry=registry).info({"model": model, "version": __version__})


def init_app(app, model):
    """Count every request; expose the registry at ``GET /metrics``."""
    app.extensions[METRICS_EXTENSION] = Metrics(CollectorRegistry(), model)
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_leave)
    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape():
    """Prometheus metrics: requests, refusals by reason, latencies, confidences.
    ---
    tags: [health]
    responses:
      200:
        description: The metrics, in Prometheus' text format.
        content:
          text/plain:
            schema: {type: string}
    """
    body = generate_latest(current_app.extensions[METRICS_EXTENSION].registry)
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST}


def count_report(verdict):
    """One client's report: RIGHT or WRONG on an answer, REFUSED on a refusal."""
    current_app.extensions[METRICS_EXTENSION].reports.labels(verdict).inc()


def _start():
    current_app.extensions[METRICS_EXTENSION].in_flight.inc()
    g.metrics_counted = True
    g.metrics_started = time.perf_counter()


def _finish(response):
    metrics = current_app.extensions[METRICS_EXTENSION]
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.requests.labels(endpoint, str(response.status_code)).inc()
    metrics.request_seconds.labels(endpoint).observe(
        time.perf_counter() - g.get("metrics_started", time.perf_counter())
    )
    outcome = current_outcome()
    if outcome.reason is not None:
        metrics.refusals.labels(outcome.reason).inc()
    if outcome.reading_seconds is not None:
        metrics.reading_seconds.observe(outcome.reading_seconds)
    if outcome.confidence is not None:
        metrics.confidence.observe(outcome.confidence)
    if outcome.decided_by is not None:
        metrics.readings.labels(outcome.decided_by).inc()
    return response


def _leave(error):
    if g.pop("metrics_counted", False):
        current_app.extensions[METRICS_EXTENSION].in_flight.dec()
