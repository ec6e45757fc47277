"""Answers a page in a browser may read (userscripts, extensions): off unless ``CORS_ORIGINS`` is set."""

import re

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
    origins = [origin.strip().rstrip("/") for origin in app.config["CORS_ORIGINS"].split(",") if origin.strip()]
    if not origins:
        return
    if origins != ["*"]:
        wrong = [origin for origin in origins if not ORIGIN.match(origin)]
        if wrong:
            raise ValueError(f"CORS_ORIGINS holds {wrong}: give '*' or origins such as https://example.com, comma-separated")
    CORS(app, origins=origins[0] if origins == ["*"] else origins, allow_headers=list(ALLOWED_HEADERS),
         expose_headers=list(EXPOSED_HEADERS), max_age=600, send_wildcard=origins == ["*"])
