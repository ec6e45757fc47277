"""What both protocols share: the key check, reading an image into a task, the balance."""

from flask import current_app, g

from ..api.auth import accepts_key, is_plausible_key, key_owner
from ..api.extension import default_length, ocr
from ..api.metrics import REFUSED, RIGHT, WRONG, count_report
from ..api.outcome import note_refusal
from ..api.recent import RecentUnavailable
from ..api.reports import UnknownRequest, read_remembered, report
from ..ocr.asks import LONGEST, SHORTEST
from ..ocr.exceptions import UnreadableInput
from ..ocr.payload import decode_image_payload
from ..ocr.reasons import Reason
from .callbacks import callbacks_of
from .errors import BY_REASON, UNSOLVABLE, SolverError
from .tasks import task_store
from .upstream import LONGEST_TEXT, UPSTREAM_EXTENSION, Expected

# Reading costs nothing here; bots that check their balance before each captcha carry on. With an upstream
# solver, the balance is its account's: what the captchas we cannot read will cost.
BALANCE = 1_000_000.0
LETTERS_ONLY, LETTERS_AND_DIGITS = 2, 4  # the services' `numeric` values that digits alone never answer
# What a task may say of its captcha beyond its length, in the createTask API's names (anti-captcha's
# ImageToTextTask: phrase, case, math, comment, languagePool): passed on to the upstream solver (flags
# as booleans, texts as sent), so that its workers see them. A math or phrase captcha is no number to
# read: we leave it to the upstream (or answer it unsolvable).
FLAG_KNOBS, TEXT_KNOBS = ("phrase", "case", "math"), ("comment", "languagePool")
NOT_A_NUMBER = ("math", "phrase")
# A flag as a client may write it: JSON's true/false, 0/1 (equal to them as keys), or those as text (a form's).
FLAG_VALUES = {True: True, False: False, "true": True, "false": False, "1": True, "0": False, "": False}
LONGEST_KNOB = 512  # characters of a knob's text (a comment for the human solver)
LONGEST_NUMBER = 9  # digits of a numeric field (min_len, numeric, ...): longer is no value we use


def client_of(key, missing="ERROR_KEY_DOES_NOT_EXIST"):
    """The owner (``auth.key_owner``) of a key that opens the service; ``missing`` is the code for no key, or one
    that is no key at all (empty, too long, not printable ASCII), as the services refuse those even when any key
    works."""
    if not accepts_key(current_app, key):
        raise SolverError(
            missing if not is_plausible_key(key) else "ERROR_KEY_DOES_NOT_EXIST", "send one of this service's API keys"
        )
    return key_owner(key)


def balance():
    """The balance a client is told: the upstream solver's account's (``Upstream.balance``: cached, and its account
    errors raised as they are), or without one BALANCE."""
    upstream = current_app.extensions.get(UPSTREAM_EXTENSION)
    return BALANCE if upstream is None else upstream.balance()


def image_of_base64(text):
    try:
        return decode_image_payload(text)
    except UnreadableInput as refusal:
        raise _answered(refusal) from None


def knobs_of(fields):
    """The knobs among a task's ``fields``: its flags as booleans (anything else is ERROR_BAD_PARAMETERS: read as
    set because it was not empty, ``"math": "false"`` made a number unsolvable) and its short texts."""
    knobs = {name: flag(fields[name], name) for name in FLAG_KNOBS if fields.get(name) is not None}  # null: unset
    return knobs | {
        name: fields[name]
        for name in TEXT_KNOBS
        if isinstance(fields.get(name), str) and len(fields[name]) <= LONGEST_KNOB
    }


def flag(value, name):
    """A yes/no field (``FLAG_VALUES``), else ERROR_BAD_PARAMETERS."""
    text = value.strip().lower() if isinstance(value, str) else value
    if isinstance(text, bool | int | str) and text in FLAG_VALUES:
        return FLAG_VALUES[text]
    raise SolverError("ERROR_BAD_PARAMETERS", f"{name} must be true or false (or 1 or 0)")


def whole_number(value, name):
    """A whole-number field (0 when absent or empty): a JSON number, or one written as text; anything else is
    ERROR_BAD_PARAMETERS, not taken for an absent field (``"numeric": "2"`` asked for letters and got digits)."""
    if value is None or value == "":
        return 0
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdigit() and len(text) <= LONGEST_NUMBER:
        return int(text)
    raise SolverError("ERROR_BAD_PARAMETERS", f"{name} must be a whole number")


def solve(
    image_bytes,
    owner,
    min_length=0,
    max_length=0,
    numeric=0,
    least_confidence=None,
    knobs=None,
    callback=None,
    model=None,
):
    """Read the image now: a task with the digits, or with UNSOLVABLE when we are not sure.

    ``model``: a site model to read with (None: the general model); without lengths, it reads as many digits as
    its card says it learnt (CapMonster's SDKs, for one, cannot send lengths).

    ``least_confidence``: a floor the client asked for (CapMonster's ``recognizingThreshold``,
    CapSolver's ``score``); it may raise MIN_CONFIDENCE, never lower it: a client of a paid
    solver asks to pay only for answers this sure, not to be sent guesses. ``knobs``: ``knobs_of``
    the task. ``callback``: a ``callbacks.Callback`` told the answer when there is one.

    An image refused before any reading (empty, too big, not an image) raises its SolverError:
    the services refuse those when they are sent, not when they are polled for.
    """
    length = _length(min_length, max_length, model)
    task_fields = {"numeric": numeric, "minLength": min_length, "maxLength": max_length, **(knobs or {})}
    if (
        numeric in (LETTERS_ONLY, LETTERS_AND_DIGITS)
        or length is None
        or any(task_fields.get(name) for name in NOT_A_NUMBER)
    ):
        note_refusal(Reason.NOT_DIGITS_ONLY)
        return _unsolvable(image_bytes, owner, task_fields, callback)
    try:
        floor = current_app.config["MIN_CONFIDENCE"]
        reading = read_remembered(image_bytes, length, max(floor, least_confidence or floor), model=model, owner=owner)
    except UnreadableInput as refusal:
        if refusal.reason in BY_REASON:
            raise _answered(refusal) from None
        note_refusal(refusal.reason, refusal.extra.get("digits"), refusal.extra.get("confidence"))
        return _unsolvable(image_bytes, owner, task_fields, callback)
    return _answered_now(task_store(current_app).add(owner, g.request_id, digits=reading.digits), callback)


def _unsolvable(image_bytes, owner, task_fields, callback):
    """A task for the upstream solver to answer, if there is one with room (it tells ``callback``); else an
    unsolvable task."""
    upstream, expected = current_app.extensions.get(UPSTREAM_EXTENSION), _expected(task_fields)
    # lengths no answer meets (9 digits, min above max): not paid for
    if upstream is not None and expected.can_be_met():
        fields = {name: value for name, value in task_fields.items() if value}
        forwarded = upstream.forward(image_bytes, owner, g.request_id, fields, expected, callback)
        if forwarded is not None:
            return forwarded
    return _answered_now(task_store(current_app).add(owner, g.request_id, error=UNSOLVABLE), callback)


def _answered_now(task, callback):
    if callback is not None:
        callbacks_of(current_app).deliver(callback, task.id, task.digits, task.error, task.created)
    return task


def _expected(task_fields):
    """What an upstream's solution to such a task must be: digits within our lengths, or for a captcha that is not
    digits only (or a sum, or a phrase), letters and digits (and spaces, for a phrase) within the task's."""
    shortest, longest = task_fields["minLength"], task_fields["maxLength"]
    if task_fields["numeric"] in (LETTERS_ONLY, LETTERS_AND_DIGITS) or any(
        task_fields.get(name) for name in NOT_A_NUMBER
    ):
        return Expected(False, shortest or 1, longest or LONGEST_TEXT, phrase=bool(task_fields.get("phrase")))
    return Expected(True, max(shortest or SHORTEST, SHORTEST), min(longest or LONGEST, LONGEST))


def report_task(task, correct):
    """A client's reportgood/reportbad: labels the task's image with its answer when right (see ``reports``); an
    upstream's answer that is no digits (a captcha of letters) is counted, never made a label, and the report is
    forwarded to the upstream (``Upstream.report``). False, and nothing counted, kept or forwarded, if the task was
    reported on before: a client's second word on one captcha is no second vote."""
    if not task_store(current_app).first_report(task.id):
        return False
    upstream = current_app.extensions.get(UPSTREAM_EXTENSION)
    if task.receipt is not None and upstream is not None:  # the upstream's answer: its refund is the operator's
        upstream.report(task.receipt.upstream_id, correct)
    try:
        if correct and task.digits and task.digits.isdigit() and SHORTEST <= len(task.digits) <= LONGEST:
            report(task.request_id, digits=task.digits, owner=task.owner)
        else:
            report(task.request_id, correct=correct, owner=task.owner)
    except (UnknownRequest, UnreadableInput, RecentUnavailable):  # no longer kept, never read, or Redis lost: counted
        count_report(REFUSED if task.digits is None else RIGHT if correct else WRONG)
    return True


def _answered(refusal):
    note_refusal(refusal.reason)
    return SolverError(BY_REASON[refusal.reason], refusal.detail)


def _length(min_length, max_length, model=None):
    """Digits to read: the site model's (``default_length``: its card's, or OCR_DIGITS) where the task names no
    lengths; the range's one length; else the range, of which the read takes the length the picture reads likeliest
    (``CaptchaPipeline.read``): a bound chosen beforehand cut a fifth digit off, or added one, and answered surely
    (None: no length we read)."""
    lowest, highest = max(min_length or SHORTEST, SHORTEST), min(max_length or LONGEST, LONGEST)
    if lowest > highest:
        return None
    if not (min_length or max_length):
        return default_length(ocr.pipeline, model, current_app.config) if model else current_app.config["OCR_DIGITS"]
    return lowest if lowest == highest else range(lowest, highest + 1)
