"""Optional API keys for reading captchas: off unless ``API_KEYS`` is set."""

import functools
import hashlib
import hmac
import ipaddress
import pathlib

from flask import current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

KEYS_EXTENSION = "captcha_ocr_api_keys"
LONGEST_KEY = 256  # the services' keys are 32 characters; longer is no key, not state to keep


def init_app(app):
    """Load the keys: ``API_KEYS`` (comma-separated) and ``API_KEYS_FILE`` (a file of one key a line).

    Either or both may be set; neither turns auth off. A file that cannot be read, or a setting
    that holds no key, stops the start-up: a typo must never leave the service open, nor make
    a path the key.
    """
    app.extensions[KEYS_EXTENSION] = load_api_keys(app.config["API_KEYS"], app.config["API_KEYS_FILE"])


def load_api_keys(listed, file_name=""):
    """The keys as bytes. The file may hold blank lines and ``#`` comments."""
    keys = [key.strip() for key in listed.split(",") if key.strip()]
    if any(key.startswith(("/", "./", "~")) for key in keys):
        raise ValueError("API_KEYS holds what looks like a file path: name a file of keys in API_KEYS_FILE")
    if listed.strip() and not keys:
        raise ValueError("API_KEYS is set but holds no key")
    if file_name.strip():
        try:
            lines = pathlib.Path(file_name.strip()).read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"API_KEYS_FILE={file_name!r} cannot be read: {error}") from None
        from_file = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
        if not from_file:
            raise ValueError(f"API_KEYS_FILE={file_name!r} holds no key")
        keys += from_file
    return tuple(key.encode() for key in keys)


def api_key_required(view):
    """Refuse the view with 401 unless the request presents one of the keys (when keys are set)."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        keys = api_keys(current_app)
        if keys and not _is_known(_presented_key(), keys):
            raise Unauthorized(
                "send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "captcha-ocr"}),
            )
        return view(*args, **kwargs)

    return guarded


def api_keys(app):
    """The API keys ``app`` accepts (none: auth is off)."""
    return app.extensions[KEYS_EXTENSION]


def accepts_key(app, presented):
    """Whether a key sent in a body or query (the solver protocols') opens ``app``.

    A key must be printable ASCII of at most LONGEST_KEY characters, and one of the keys when
    any are set (with none, any such key opens it, and keeps its tasks and reports apart).
    """
    if not is_plausible_key(presented):
        return False
    keys = api_keys(app)
    return not keys or _is_known(presented.encode(), keys)


def is_plausible_key(key):
    return 0 < len(key) <= LONGEST_KEY and key.isascii() and key.isprintable()


def key_owner(key):
    """Who presented ``key``, to keep clients' tasks and reports apart: a digest, never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def request_owner():
    """``key_owner`` of the key this request to the HTTP API presents ("" for none: no keys are set)."""
    presented = _presented_key()
    return key_owner(presented.decode()) if presented else ""


def warn_if_open_to_the_network(logger, host, keys):
    """Log a warning when the service listens beyond loopback with no API keys."""
    if not keys and not is_loopback(host):
        logger.warning("listening on %s without API keys: anyone who can reach it can use it (set API_KEYS)", host)


def _presented_key():
    """The key in the headers, as bytes; b"" for none or one that is no plausible key."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" and token.strip() else request.headers.get("X-API-Key", "")
    return key.encode() if is_plausible_key(key) else b""


def _is_known(presented, keys):
    """Compare with every key in constant time, so timing tells nothing about any of them."""
    matches = [hmac.compare_digest(presented, key) for key in keys]
    return presented != b"" and any(matches)


def is_loopback(host):
    """Whether ``host`` (a name or address to listen on) is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
