"""Optional API keys for reading captchas: off unless ``API_KEYS`` is set."""

import functools
import hmac
import ipaddress
import pathlib

from flask import current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

KEYS_EXTENSION = "captcha_ocr_api_keys"


def init_app(app):
    """Load the keys of ``API_KEYS``: comma-separated keys, or the path of a file of one key a line."""
    app.extensions[KEYS_EXTENSION] = load_api_keys(app.config["API_KEYS"])


def load_api_keys(setting):
    """The keys as bytes. A file may hold blank lines and ``#`` comments."""
    setting = setting.strip()
    if not setting:
        return ()
    path = pathlib.Path(setting)
    if path.is_file():
        lines = (line.strip() for line in path.read_text().splitlines())
        keys = [line for line in lines if line and not line.startswith("#")]
    else:
        keys = [key.strip() for key in setting.split(",") if key.strip()]
    if not keys:
        raise ValueError("API_KEYS is set but holds no key")
    return tuple(key.encode() for key in keys)


def api_key_required(view):
    """Refuse the view with 401 unless the request presents one of the keys (when keys are set)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        keys = current_app.extensions[KEYS_EXTENSION]
        if keys and not _is_known(_presented_key(), keys):
            raise Unauthorized(
                "send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "captcha-ocr"}),
            )
        return view(*args, **kwargs)

    return guarded


def warn_if_open_to_the_network(app, host):
    """Log a warning when the service listens beyond loopback with no API keys."""
    if not app.extensions[KEYS_EXTENSION] and not _is_loopback(host):
        app.logger.warning("listening on %s without API keys: anyone who can reach it can use it (set API_KEYS)", host)


def _presented_key():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip().encode()
    return request.headers.get("X-API-Key", "").encode()


def _is_known(presented, keys):
    """Compare with every key in constant time, so timing tells nothing about any of them."""
    matches = [hmac.compare_digest(presented, key) for key in keys]
    return presented != b"" and any(matches)


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
