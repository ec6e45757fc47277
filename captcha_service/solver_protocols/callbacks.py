"""Tell a bot's own server a task's answer when it is ready, instead of it polling for it.

2captcha's ``pingback`` (in.php): a POST of ``id=<task id>&code=<answer or error code>`` as a form
(2captcha.com, "How to set up automatic answer retrieval using pingback"); 2captcha-python with
``callback=`` sends it and never polls. Anti-captcha's ``callbackUrl`` (createTask): a POST of what
getTaskResult would answer, as JSON, with the ``taskId``. Both services send only to addresses the
account registered; here that is ``CALLBACK_HOSTS`` (loopback by default: the bots next to the
service), so that no client can make the service call into a network it should not reach.
Deliveries run on threads of their own, a few at a time, each bounded in time; one that fails is
logged and not retried (the bot can still poll). No Flask here.
"""

import http.client
import json
import logging
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import ERROR_IDS, SolverError, legacy_code
from .tasks import ready_result

logger = logging.getLogger(__name__)

CALLBACKS_EXTENSION = "captcha_ocr_callbacks"
PINGBACK, CALLBACK_URL = "pingback", "callbackUrl"  # the two styles: 2captcha's, anti-captcha's
SECONDS = 5.0  # for one delivery, connection included
WAITING = 256  # deliveries queued at most; beyond, one is dropped (and logged) rather than memory grown
LONGEST_URL = 2048


@dataclass(frozen=True)
class Callback:
    url: str
    style: str  # PINGBACK or CALLBACK_URL

    def request(self, task_id, digits, error, created, receipt=None):
        """(content type, body) telling the task's answer: its digits, or the protocol's error code. ``created``,
        ``receipt``: the task's (``tasks.Task``), for callbackUrl's accounting fields."""
        if self.style == PINGBACK:
            return "application/x-www-form-urlencoded", urllib.parse.urlencode(
                {"id": task_id, "code": digits or legacy_code(error)}
            )
        if digits:
            answer = ready_result(digits, created, receipt)
        else:
            answer = {
                "errorId": ERROR_IDS[error],
                "errorCode": error,
                "errorDescription": "no sure reading of this captcha",
            }
        return "application/json", json.dumps({"taskId": task_id, **answer})


class Callbacks:
    def __init__(self, hosts, workers=2):
        self.hosts = {host.strip().lower() for host in hosts.split(",") if host.strip()}
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="callbacks")
        self._room = threading.BoundedSemaphore(WAITING)

    def callback(self, url, style):
        """The Callback of ``url``, or a SolverError if it is no http(s) URL of a host CALLBACK_HOSTS allows."""
        parts = _url_parts(url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise SolverError(
                "ERROR_BAD_PARAMETERS",
                f"{style} must be an http:// or https:// URL of printable ASCII, its port a number to 65535",
            )
        if "*" not in self.hosts and parts.hostname.lower() not in self.hosts:
            raise SolverError(
                "ERROR_BAD_PARAMETERS", f"{style} goes to {parts.hostname}, which CALLBACK_HOSTS does not allow"
            )
        return Callback(url, style)

    def deliver(self, callback, task_id, digits, error, created, receipt=None):
        if not self._room.acquire(blocking=False):
            logger.warning("a %s to %s was dropped: %d deliveries are waiting", callback.style, callback.url, WAITING)
            return
        self._threads.submit(self._deliver, callback, callback.request(task_id, digits, error, created, receipt))

    def close(self):
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, callback, request):
        content_type, body = request
        try:
            parts = urllib.parse.urlsplit(callback.url)
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            connection = kind(parts.hostname, parts.port, timeout=SECONDS)
            try:
                path = parts.path or "/"
                connection.request(
                    "POST", f"{path}?{parts.query}" if parts.query else path, body, {"Content-Type": content_type}
                )
                connection.getresponse().read(1024)  # a redirect is not followed: the bot's server answers, or not
            finally:
                connection.close()
        except (OSError, http.client.HTTPException, ValueError) as failure:
            logger.warning("the %s to %s failed: %s", callback.style, callback.url, failure)
        finally:
            self._room.release()


def _url_parts(url):
    """The parts of a URL a request can be sent to (printable ASCII, a port if any in range), or ``None``: one that
    is not would fail only when its delivery is tried, on a thread where the bot never hears of it."""
    if not isinstance(url, str) or len(url) > LONGEST_URL or not (url.isascii() and url.isprintable()) or " " in url:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:  # an unclosed [ of an IPv6 address, a bad port
        return None
    return parts


def callbacks_of(app):
    return app.extensions[CALLBACKS_EXTENSION]
