"""Answers a page in a browser may read (userscripts, extensions): off unless ``CORS_ORIGINS`` is set; and what an
``OPTIONS`` request (a browser's preflight, or a client asking what a path allows) is answered, always."""

import re

from flask import request
from flask_cors import CORS

# What a page may send, and may read back, besides the simple headers.
ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-API-Key", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")
# A web page's origin, or a browser extension's (its pages and background scripts call with these).
ORIGIN = re.compile(r"(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|(chrome|moz|safari-web)-extension://[A-Za-z0-9.-]+)\Z")


def init_app(app):
    """``CORS_ORIGINS``: ``*`` (any page), or comma-separated origins (``https://example.com``,
    ``chrome-extension://<id>``); empty: none.

    A value that is no origin stops the start-up: a typo must not leave every page shut out unnoticed.
    """
    app.after_request(_options_answer_no_content)
    origins = _origins(app.config)
    if not origins:
        return
    if origins != ["*"]:
        wrong = [origin for origin in origins if not ORIGIN.match(origin)]
        if wrong:
            raise ValueError(
                f"CORS_ORIGINS holds {wrong}: give '*' or origins such as https://example.com, comma-separated"
            )
    CORS(
        app,
        origins=origins[0] if origins == ["*"] else origins,
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        max_age=600,
        send_wildcard=origins == ["*"],
    )


def _options_answer_no_content(response):
    """Flask answers ``OPTIONS`` with its ``Allow`` header and an empty body labelled ``text/html``: a 204 says the
    same with no body to mistake for a page."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204
        del response.headers["Content-Type"]
    return response


def allowed_origin(config, origin):
    """The ``Access-Control-Allow-Origin`` of an answer to a request from ``origin`` (None: no header), for answers
    made outside Flask: waitress's own refusals (a body too large), which a page must be able to read too."""
    origins = _origins(config)
    if origins == ["*"]:
        return "*"
    return origin if origin and origin.rstrip("/") in origins else None


def _origins(config):
    return [origin.strip().rstrip("/") for origin in config["CORS_ORIGINS"].split(",") if origin.strip()]
