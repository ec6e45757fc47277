"""What both protocols share: the key check, reading an image into a task, the balance."""

from flask import current_app, g

from ..auth import accepts_key
from ..metrics import count_report
from ..ocr.exceptions import UnreadableInput
from ..ocr.payload import decode_image_payload
from ..outcome import note_refusal
from ..reports import UnknownRequest, read_remembered, report
from ..schemas import LONGEST, SHORTEST
from .errors import BY_REASON, UNSOLVABLE, SolverError
from .tasks import task_store
from .upstream import UPSTREAM_EXTENSION

# Reading costs nothing here; bots that check their balance before each captcha carry on.
BALANCE = 1_000_000.0
LETTERS_ONLY, LETTERS_AND_DIGITS = 2, 4  # the services' `numeric` values that digits alone never answer


def check_key(key, missing="ERROR_KEY_DOES_NOT_EXIST"):
    """Refuse a key that is not one of API_KEYS (when set): ``missing`` is the code for no key at all."""
    if not accepts_key(current_app, key):
        raise SolverError(missing if not key else "ERROR_KEY_DOES_NOT_EXIST", "send one of this service's API keys")


def image_of_base64(text):
    try:
        return decode_image_payload(text)
    except UnreadableInput as refusal:
        raise _answered(refusal) from None


def solve(image_bytes, key, min_length=0, max_length=0, numeric=0):
    """Read the image now: a task with the digits, or with UNSOLVABLE when we are not sure.

    An image refused before any reading (empty, too big, not an image) raises its SolverError:
    the services refuse those when they are sent, not when they are polled for.
    """
    length = _length(min_length, max_length)
    if numeric in (LETTERS_ONLY, LETTERS_AND_DIGITS) or length is None:
        note_refusal("not_digits_only")
        return _unsolvable(image_bytes, key, {"numeric": numeric, "minLength": min_length, "maxLength": max_length})
    try:
        reading = read_remembered(image_bytes, length)
    except UnreadableInput as refusal:
        if refusal.reason in BY_REASON:
            raise _answered(refusal) from None
        note_refusal(refusal.reason, refusal.extra.get("digits"), refusal.extra.get("confidence"))
        return _unsolvable(image_bytes, key, {"numeric": numeric, "minLength": min_length, "maxLength": max_length})
    return task_store(current_app).add(key, g.request_id, digits=reading.digits)


def _unsolvable(image_bytes, key, task_fields):
    """A task for the upstream solver to answer, if there is one with room; else an unsolvable task."""
    upstream = current_app.extensions.get(UPSTREAM_EXTENSION)
    task_fields = {name: value for name, value in task_fields.items() if value}
    forwarded = upstream.forward(image_bytes, key, g.request_id, task_fields) if upstream else None
    return forwarded or task_store(current_app).add(key, g.request_id, error=UNSOLVABLE)


def report_task(task, correct):
    """A client's reportgood/reportbad: labels the task's image with its answer when right (see ``reports``)."""
    try:
        if correct and task.digits:
            report(task.request_id, digits=task.digits)
        else:
            report(task.request_id, correct=correct)
    except (UnknownRequest, UnreadableInput):  # no longer kept, or never read: counted only
        count_report(correct)


def _answered(refusal):
    note_refusal(refusal.reason)
    return SolverError(BY_REASON[refusal.reason], refusal.detail)


def _length(min_length, max_length):
    """Digits to read: the range's one length, else OCR_DIGITS or the range's bound nearest to it (None: no length we read)."""
    lowest, highest = max(min_length or SHORTEST, SHORTEST), min(max_length or LONGEST, LONGEST)
    if lowest > highest:
        return None
    return min(max(current_app.config["OCR_DIGITS"], lowest), highest)
