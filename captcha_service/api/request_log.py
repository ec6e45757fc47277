"""One logfmt line per request, and an ``X-Request-ID`` on every answer.

Logged: request id, method, path, status, latency, and for /ocr the digits' length, the
confidence and the reason of a refusal. Never the image, never a header's value but the id.
"""

import json
import logging
import re
import sys
import time
import uuid

from flask import g, request

from .outcome import current_outcome

LOGGER_NAME = "captcha_service.requests"
REQUEST_ID_HEADER = "X-Request-ID"
ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
BARE_VALUE = re.compile(r"[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+")  # printable ASCII but '"', '=' and '\'


logger = logging.getLogger(LOGGER_NAME)


def init_app(app):
    """Log each request at ``LOG_LEVEL`` (default INFO) to standard output, one line each: problems go to
    standard error (Flask's logger), so PM2's error log holds problems, not traffic."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(app.config["LOG_LEVEL"].upper())
    app.before_request(start_request)
    app.after_request(finish_request)


def start_request():
    """Take the client's request id if it is a sane token, or make one."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if ACCEPTABLE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def logfmt_value(value):
    """``value`` as logfmt: bare when plain, else quoted with every control character escaped.

    The path is logged after percent-decoding: ``%0A`` would forge a whole log line, and ESC
    or CR reach the terminal of whoever reads ``pm2 logs``.
    """
    text = str(value)
    return text if BARE_VALUE.fullmatch(text) else json.dumps(text)


def finish_request(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    fields = {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "latency_ms": f"{1000 * (time.perf_counter() - g.get('request_started', time.perf_counter())):.1f}",
    }
    outcome = current_outcome()
    if outcome.digits is not None:
        fields["digits_length"] = len(outcome.digits)
        fields["confidence"] = outcome.confidence
    if outcome.decided_by is not None:
        fields["decided_by"] = outcome.decided_by
    if outcome.reason is not None:
        fields["reason"] = outcome.reason
    logger.info(" ".join(f"{name}={logfmt_value(value)}" for name, value in fields.items()))
    return response
