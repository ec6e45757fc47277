"""Forward the captchas we would refuse to another solver that speaks the createTask API.

A forwarded task is pending until the upstream answers; the bot polls as usual meanwhile
(``processing`` / ``CAPCHA_NOT_READY``). At most ``concurrency`` captchas are with the upstream
at once (more are refused at once, as without an upstream); each gets ``timeout`` seconds in all,
one deadline for the whole exchange however slowly the upstream trickles its bytes. Its answer is
checked as our own would be (the asked kind and length of text), redirects are not followed,
and any failure of the upstream is our usual "unsolvable", but for its refusals of the operator's
account (``errors.ACCOUNT_ERRORS``: no balance, a wrong key, an IP banned), which the client gets
as they are, and the log tells once. Its accounting reaches the clients too: its balance (asked
at most every BALANCE_SECONDS), the cost and times of each answer (``tasks.Receipt``), and a
client's report on an answer is forwarded to it, for the refund. No Flask here: the forwarding
runs on threads of its own, after the request that sent the captcha has been answered.
"""

import base64
import contextlib
import http.client
import json
import logging
import math
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace

from .callbacks import Callback
from .errors import ACCOUNT_ERRORS, UNSOLVABLE, SolverError
from .tasks import Receipt, is_task_id

logger = logging.getLogger(__name__)

UPSTREAM_EXTENSION = "captcha_ocr_upstream_solver"
# anti-captcha asks that getBalance be called at most every 30 seconds, a cached value used meanwhile
# (https://anti-captcha.com/apidoc/methods/getBalance); a balance that could not be had is asked again sooner.
BALANCE_SECONDS, BALANCE_RETRY_SECONDS = 30.0, 5.0
# A client's report on an upstream's answer, as the createTask APIs take it ({clientKey, taskId}), tried in this
# order until one is a method the upstream has: anti-captcha's and CapMonster's reportIncorrectImageCaptcha
# (https://anti-captcha.com/apidoc/methods/reportIncorrectImageCaptcha: checked by moderators, then refunded),
# 2captcha's reportIncorrect and reportCorrect (https://2captcha.com/api-docs/report-incorrect; anti-captcha has no
# report of a right image answer). Only one report is sent per task, as they accept only one.
REPORT_METHODS = {False: ("reportIncorrectImageCaptcha", "reportIncorrect"), True: ("reportCorrect",)}
REPORTS_WAITING = 256  # reports queued at most; beyond, one is dropped (and logged) rather than memory grown
POLL_SECONDS = 1.0
RECLAIM_SECONDS = 2.0  # how often a process looks for forwarded tasks another process stopped polling for
REQUEST_SECONDS = 10.0
LARGEST_ANSWER = 64 * 1024  # bytes of one upstream answer: a task's JSON is a few hundred
LONGEST_TEXT = 32  # characters of a solution to a captcha that is not digits only (letters, forwarded as they are)
# beyond (or NaN, infinite), an upstream's balance is no number a client reads exactly: none given
LARGEST_BALANCE = 2**53


class Upstream:
    def __init__(self, url, key, concurrency, timeout, store, callbacks):
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"setting UPSTREAM_SOLVER={url!r} is not an http:// or https:// URL")
        self._parts, self.key, self.timeout, self.store, self.callbacks = parts, key, timeout, store, callbacks
        self._free = threading.BoundedSemaphore(concurrency)
        self._threads = ThreadPoolExecutor(concurrency, thread_name_prefix="upstream-solver")
        self._stopping = threading.Event()
        self._sockets = set()  # of the exchanges under way, for close() to cut
        self._lock = threading.Lock()
        self._account_error = None  # the upstream's last refusal of our account, until it answers again
        self._balance_lock = threading.Lock()
        # (the last balance had, the account error met asking, when asked: monotonic)
        self._balance = (None, None, -math.inf)
        self._reports = ThreadPoolExecutor(1, thread_name_prefix="upstream-reports")
        self._reports_room = threading.BoundedSemaphore(REPORTS_WAITING)
        threading.Thread(target=self._reclaim, name="upstream-reclaimer", daemon=True).start()

    def forward(self, image_bytes, owner, request_id, task_fields, expected, callback=None):
        """A pending task whose answer the upstream will give, or None when the upstream is busy.

        ``expected``: the ``Expected`` text, else the answer is unsolvable; ``callback``: told the answer.
        """
        if self._stopping.is_set() or not self._free.acquire(blocking=False):
            return None
        try:
            task = self.store.add(owner, request_id)
        except BaseException:  # a task store that cannot take it (Redis lost): the slot is not held by nothing
            self._free.release()
            raise
        self._threads.submit(
            self._solve,
            task.id,
            image_bytes,
            task_fields,
            Handover(time.time() + self.timeout, expected, callback=callback, created=task.created),
        )
        return task

    def balance(self):
        """The upstream account's balance (a number), asked at most every BALANCE_SECONDS with one bounded exchange.

        Raises the SolverError of an account error the upstream answered (ERROR_ZERO_BALANCE, ...), or "no slot"
        when it cannot be had (down, not the protocol) and no balance was had before.
        """
        balance, error, asked = self._balance
        # One exchange at a time: a crowd of bots polling the balance makes one call, and while it is under way they
        # are told what was had before; only the very first ask is waited for (bounded, as every exchange): once one
        # came to nothing, a renewal holds no bot (nor its server thread) for an upstream that hangs.
        first = balance is None and not error and asked == -math.inf
        if _is_stale(balance, error, asked) and self._balance_lock.acquire(blocking=first):
            try:
                balance, error, asked = self._balance  # another thread may have asked meanwhile
                if _is_stale(balance, error, asked):
                    balance, error = self._ask_balance(balance)
                    self._balance = (balance, error, time.monotonic())
            finally:
                self._balance_lock.release()
        if error:
            raise SolverError(error, "the upstream solver refuses this service's account")
        if balance is None:
            raise SolverError("ERROR_NO_SLOT_AVAILABLE", "the upstream solver's balance cannot be had now: try again")
        return balance

    def _ask_balance(self, last):
        """(balance, None), (None, account error), or (``last``, None) when the upstream gave no balance."""
        try:
            answer = self._call("getBalance", {"clientKey": self.key}, time.time() + min(self.timeout, REQUEST_SECONDS))
        except (OSError, ValueError, http.client.HTTPException) as failure:
            logger.warning("the upstream solver's balance cannot be had: %s", failure)
            return last, None
        error = self._account_error_of(answer)
        if error:
            return None, error
        balance = answer.get("balance")
        # abs(...) < LARGEST_BALANCE, not math.isfinite: that raises OverflowError on an int no float holds (10**400)
        if (
            answer.get("errorId")
            or not isinstance(balance, int | float)
            or isinstance(balance, bool)
            or not abs(balance) < LARGEST_BALANCE
        ):
            logger.warning("the upstream solver answered getBalance with no balance: error %r", answer.get("errorCode"))
            return last, None
        return balance, None

    def report(self, upstream_id, correct):
        """Tell the upstream a client's report on its answer to its task ``upstream_id`` (on a thread of its own)."""
        if self._stopping.is_set() or not self._reports_room.acquire(blocking=False):
            logger.warning(
                "a report on the upstream's task %s was not forwarded: %d are waiting", upstream_id, REPORTS_WAITING
            )
            return
        self._reports.submit(self._report, upstream_id, correct)

    def _report(self, upstream_id, correct):
        try:
            for method in REPORT_METHODS[correct]:
                try:
                    answer = self._call(
                        method, {"clientKey": self.key, "taskId": upstream_id}, time.time() + REQUEST_SECONDS
                    )
                except HttpStatus as refused:
                    answer = {"errorId": refused.status, "errorCode": f"HTTP {refused.status}"}
                # else the upstream has no such method
                if answer.get("errorCode") not in ("ERROR_NO_SUCH_METHOD", "HTTP 404"):
                    break
            if answer.get("errorId"):
                logger.warning(
                    "the upstream solver did not take a report on its task %s: %s", upstream_id, answer.get("errorCode")
                )
        except (OSError, ValueError, http.client.HTTPException) as failure:
            logger.warning("a report on the upstream's task %s could not be forwarded: %s", upstream_id, failure)
        finally:
            self._reports_room.release()

    def close(self):
        """Stop forwarding: exchanges under way end at once, so a stopping server need not wait. Their tasks are handed
        to another process sharing the task store (Redis); in this process's memory they end with it."""
        self._stopping.set()
        with self._lock:
            for sock in self._sockets:
                _cut(sock)
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._reports.shutdown(wait=False, cancel_futures=True)

    def _solve(self, task_id, image_bytes, task_fields, handover):
        self.store.lease(task_id, handover.text())
        self._settle(task_id, handover, lambda: self._ask(task_id, image_bytes, task_fields, handover))

    def _resume(self, task_id, handover_text):
        """Finish a task another process forwarded and stopped polling for (it died): ask for the upstream's answer."""
        handover = Handover.of_text(handover_text)
        if handover is None or handover.upstream_id is None:  # it never reached the upstream: nothing was paid for
            self._settle(task_id, handover, lambda: None)
        else:
            self._settle(task_id, handover, lambda: self._poll(task_id, handover))

    def _settle(self, task_id, handover, ask):
        """Finish the task with the upstream's last answer that ``ask()`` gives (its text checked, an account error as
        it is, else unsolvable), and tell its callback; a stopping process hands it on instead."""
        try:
            text, error, receipt = self._outcome(ask(), handover)
        # unreachable, too slow, not the protocol
        except (_Stopping, OSError, ValueError, KeyError, TypeError, AttributeError, http.client.HTTPException):
            text, error, receipt = None, UNSOLVABLE, None
        try:
            if self._stopping.is_set():  # cut short by close(): the task goes on elsewhere
                self.store.release(task_id)
                return
            self.store.finish(task_id, digits=text, error=error, receipt=receipt)
            if handover is not None and handover.callback is not None:
                self.callbacks.deliver(handover.callback, task_id, text, error, handover.created, receipt)
        finally:
            self._free.release()

    def _outcome(self, answered, handover):
        """(text, None, its Receipt) of a ready answer whose text is what we expect, (None, the error code, None)
        else."""
        if answered is None:
            return None, UNSOLVABLE, None
        answer, upstream_id = answered
        error = self._account_error_of(answer)
        if error:
            return None, error, None
        if answer.get("errorId") or answer.get("status") != "ready" or upstream_id is None:  # _ask checked any id
            return None, UNSOLVABLE, None
        text = handover.expected.checked(answer["solution"]["text"])
        return (text, None, Receipt.of_answer(upstream_id, answer)) if text else (None, UNSOLVABLE, None)

    def _ask(self, task_id, image_bytes, task_fields, handover):
        """(the upstream's last answer on the task, its task id), or None when it had no answer in time."""
        task = {"type": "ImageToTextTask", "body": base64.b64encode(image_bytes).decode(), **task_fields}
        answer = self._call("createTask", {"clientKey": self.key, "task": task}, handover.deadline)
        upstream_id = answer.get("taskId")
        # no id to poll by, nor to keep in the handover (a list 500 deep made its JSON a RecursionError): unsolvable
        if answer.get("errorId") or not is_task_id(upstream_id):
            return answer, None
        handover = replace(handover, upstream_id=upstream_id)
        self.store.lease(task_id, handover.text())  # from here on the answer is paid for: another process can fetch it
        return self._poll(task_id, handover, answer)

    def _poll(self, task_id, handover, answer=None):
        """(the upstream's answer on its task once ready or an error, its task id), polled until then; None at the
        deadline."""
        while answer is None or (answer.get("status") != "ready" and not answer.get("errorId")):
            if time.time() + POLL_SECONDS > handover.deadline:
                return None
            if self._stopping.wait(POLL_SECONDS):
                raise _Stopping
            self.store.lease(task_id)
            answer = self._call(
                "getTaskResult", {"clientKey": self.key, "taskId": handover.upstream_id}, handover.deadline
            )
        return answer, handover.upstream_id

    def _account_error_of(self, answer):
        """The account error (``errors.ACCOUNT_ERRORS``) ``answer`` is, or None; logged once when it begins, and when
        the upstream answers without one again."""
        code = answer.get("errorCode")
        # a list: unhashable
        error = ACCOUNT_ERRORS.get(code) if answer.get("errorId") and isinstance(code, str) else None
        with self._lock:
            before, self._account_error = self._account_error, error
        if error and error != before:
            logger.error(
                "the upstream solver %s refuses UPSTREAM_SOLVER_KEY's account: %s (%s). "
                "Captchas forwarded to it are answered %s "
                "until this is fixed there (top up the balance, check the key and the account's allowed IPs)",
                self._parts.hostname,
                error,
                answer.get("errorDescription"),
                error,
            )
        elif before and not error:
            logger.warning("the upstream solver %s takes UPSTREAM_SOLVER_KEY's account again", self._parts.hostname)
        return error

    def _reclaim(self):
        """Take on, while there is room, the forwarded tasks whose process stopped renewing their lease."""
        while not self._stopping.wait(RECLAIM_SECONDS):
            while self._free.acquire(blocking=False):
                claimed = self.store.claim_abandoned(1)
                if not claimed:
                    self._free.release()
                    break
                self._threads.submit(self._resume, *claimed[0])

    def _call(self, method, body, deadline):
        """POST one JSON call and return its JSON answer, all of it before ``deadline`` (Unix time): a watchdog shuts
        the socket then."""
        remaining = min(deadline - time.time(), REQUEST_SECONDS)
        if remaining <= 0 or self._stopping.is_set():
            raise TimeoutError("the upstream solver took too long")
        kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(self._parts.hostname, self._parts.port, timeout=remaining)
        connection.connect()
        sock = connection.sock  # held here: http.client lets go of it once the answer says it closes
        watchdog = threading.Timer(remaining, _cut, [sock])
        watchdog.daemon = True
        watchdog.start()
        with self._lock:
            self._sockets.add(sock)
        try:
            connection.request(
                "POST", f"{self._parts.path}/{method}", json.dumps(body), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            # a redirect (to another address, say) is not followed
            if response.status != 200 and not 400 <= response.status < 500:
                raise HttpStatus(response.status)
            data = response.read(LARGEST_ANSWER + 1)
            if len(data) > LARGEST_ANSWER:
                raise ValueError("the upstream's answer is too large")
            try:
                answer = json.loads(data)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes, in 64 KB
                answer = None
            if response.status != 200 and not (isinstance(answer, dict) and answer.get("errorId")):
                # a 4xx of the protocol's is an error in its words (CapSolver's 400, 401, 429); others are not the
                # protocol
                raise HttpStatus(response.status)
            if not isinstance(answer, dict):
                raise ValueError("the upstream's answer is not a JSON object")
            return answer
        finally:
            watchdog.cancel()
            with self._lock:
                self._sockets.discard(sock)
            connection.close()
            sock.close()


def _is_stale(balance, error, asked):
    """Whether a balance (or the account error met) asked at ``asked`` (monotonic) is to be asked again."""
    return time.monotonic() - asked >= (BALANCE_SECONDS if balance is not None or error else BALANCE_RETRY_SECONDS)


def _cut(sock):
    """End an exchange from another thread: a read blocked on ``sock`` returns at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@dataclass(frozen=True)
class Expected:
    """What a solution must be for us to pass it on, as our own would: ASCII digits (or, for a captcha that is not
    digits only, letters and digits, and for a phrase words between single spaces), ``shortest`` to ``longest`` of
    them."""

    digits_only: bool
    shortest: int
    longest: int
    phrase: bool = False

    def checked(self, text):
        """``text`` if it is such a solution, else None (unsolvable)."""
        if not isinstance(text, str) or not text.isascii():
            return None
        words = text.split(" ") if self.phrase else [text]
        if not all(word.isalnum() for word in words) or (self.digits_only and not text.isdigit()):
            return None
        return text if self.shortest <= len(text) <= min(self.longest, LONGEST_TEXT) else None

    def can_be_met(self):
        """Whether any text is such a solution: else the upstream's answer, paid for, would be thrown away."""
        return self.shortest <= min(self.longest, LONGEST_TEXT)


@dataclass(frozen=True)
class Handover:
    """What a process needs to finish another's forwarded task: kept with the task (``store.lease``)."""

    deadline: float  # Unix time
    expected: Expected
    upstream_id: int | str | None = None  # the upstream's id of the task (as it gave it), once it has given one
    callback: Callback | None = None
    created: float = 0.0  # the task's Unix time, which its callback tells

    def text(self):
        return json.dumps(asdict(self))

    @classmethod
    def of_text(cls, text):
        """The handover ``text`` holds, or None if it holds none (an older process's task, or damaged)."""
        try:
            found = json.loads(text)
            callback = Callback(**found["callback"]) if found["callback"] else None
            handover = cls(
                float(found["deadline"]),
                Expected(**found["expected"]),
                found["upstream_id"],
                callback,
                float(found.get("created", 0.0)),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return handover if handover.upstream_id is None or is_task_id(handover.upstream_id) else None


class HttpStatus(ValueError):
    """The upstream answered an HTTP status other than 200: not the protocol."""

    def __init__(self, status):
        super().__init__(f"the upstream answered HTTP {status}")
        self.status = status


class _Stopping(Exception):
    """This process is stopping: the task is handed on, not finished."""
