"""The solving services' error codes, and which of our refusals each one stands for.

One table for both protocols: 2captcha's legacy API sends the code as text, the createTask API
as ``{"errorId", "errorCode", "errorDescription"}`` with anti-captcha's ids.
"""

from ..api.outcome import note_refusal
from ..ocr.reasons import Reason


class SolverError(Exception):
    """A failure answered in the protocol's own words (HTTP 200, as the services answer)."""

    def __init__(self, code, description):
        super().__init__(description)
        self.code, self.description = code, description

    @property
    def error_id(self):
        return ERROR_IDS[self.code]


ERROR_IDS = {
    "ERROR_KEY_DOES_NOT_EXIST": 1,
    "ERROR_WRONG_USER_KEY": 1,
    "ERROR_NO_SLOT_AVAILABLE": 2,
    "ERROR_ZERO_CAPTCHA_FILESIZE": 3,
    "ERROR_TOO_BIG_CAPTCHA_FILESIZE": 4,
    "ERROR_ZERO_BALANCE": 10,
    "ERROR_IP_NOT_ALLOWED": 11,
    "ERROR_CAPTCHA_UNSOLVABLE": 12,
    "ERROR_NO_SUCH_METHOD": 14,
    "ERROR_IMAGE_TYPE_NOT_SUPPORTED": 15,
    "ERROR_NO_SUCH_CAPCHA_ID": 16,
    "ERROR_WRONG_CAPTCHA_ID": 16,
    "ERROR_WRONG_ID_FORMAT": 16,
    "ERROR_IP_BLOCKED": 21,
    "ERROR_TASK_ABSENT": 22,
    "ERROR_TASK_NOT_SUPPORTED": 23,
    "ERROR_BAD_PARAMETERS": 22,
}
UNSOLVABLE = "ERROR_CAPTCHA_UNSOLVABLE"
# The upstream solver's refusals of the operator's account (UPSTREAM_SOLVER_KEY), by the names the createTask APIs
# give them, as our codes: anti-captcha's (https://anti-captcha.com/apidoc/errors: 1 ERROR_KEY_DOES_NOT_EXIST,
# 10 ERROR_ZERO_BALANCE, 11 ERROR_IP_NOT_ALLOWED, 21 ERROR_IP_BLOCKED), 2captcha's and CapSolver's other names for
# them. A forwarded captcha that meets one is answered with it, as the vendor would have answered the bot, not as
# "unsolvable": a bot retrying elsewhere on "unsolvable" would never learn that the account needs topping up.
ACCOUNT_ERRORS = {
    "ERROR_KEY_DOES_NOT_EXIST": "ERROR_KEY_DOES_NOT_EXIST",
    "ERROR_WRONG_USER_KEY": "ERROR_KEY_DOES_NOT_EXIST",
    "ERROR_KEY_DENIED_ACCESS": "ERROR_KEY_DOES_NOT_EXIST",
    "ERROR_ZERO_BALANCE": "ERROR_ZERO_BALANCE",
    "ERROR_IP_NOT_ALLOWED": "ERROR_IP_NOT_ALLOWED",
    "ERROR_IP_BLOCKED": "ERROR_IP_BLOCKED",
    "ERROR_IP_BANNED": "ERROR_IP_BLOCKED",
    "IP_BANNED": "ERROR_IP_BLOCKED",
}
# 2captcha's legacy API names one of them otherwise (2captcha.com/2captcha-api, in.php's errors: IP_BANNED).
LEGACY_CODES = {"ERROR_IP_BLOCKED": "IP_BANNED"}
# An internal failure (a bug: nothing a client sends should cause one) is "no slot": clients retry
# or fall back on that; its HTTP status stays 500, so that logs and /metrics count it as what it is.
BY_HTTP_STATUS = {
    413: "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
    429: "ERROR_NO_SLOT_AVAILABLE",
    500: "ERROR_NO_SLOT_AVAILABLE",
    503: "ERROR_NO_SLOT_AVAILABLE",
}

# Our refusal reasons (UnreadableInput.reason) as the services say them.
BY_REASON = {
    Reason.EMPTY_IMAGE: "ERROR_ZERO_CAPTCHA_FILESIZE",
    Reason.NO_IMAGE: "ERROR_ZERO_CAPTCHA_FILESIZE",
    Reason.IMAGE_TOO_LARGE: "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
    Reason.TOO_MANY_FRAMES: "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
    Reason.NOT_AN_IMAGE: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    Reason.DAMAGED_IMAGE: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    Reason.BAD_BASE64: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    # a task's ``model`` that names none: the bot's mistake, not worth an upstream's fee
    Reason.UNKNOWN_MODEL: "ERROR_BAD_PARAMETERS",
}  # every other reason (no reading, low confidence, an odd shape, a site model that cannot be used now) is UNSOLVABLE

# 2captcha's legacy API says each error in words too, with json=1: {"status": 0, "request": code, "error_text": ...};
# rucaptcha-2captcha (npm) makes error_text its Error's message. Short, in our words, per code (as the legacy API
# says it).
ERROR_TEXTS = {
    "ERROR_WRONG_USER_KEY": "The key is missing or not in a valid format.",
    "ERROR_KEY_DOES_NOT_EXIST": "The key you sent does not exist.",
    "ERROR_NO_SLOT_AVAILABLE": "No slot is free to take the captcha now: try again shortly.",
    "ERROR_ZERO_CAPTCHA_FILESIZE": "The image is missing or empty.",
    "ERROR_TOO_BIG_CAPTCHA_FILESIZE": "The image or the request is too large.",
    "ERROR_ZERO_BALANCE": "The account has no funds left.",
    "ERROR_IP_NOT_ALLOWED": "Requests from this IP address are not allowed for this key.",
    "ERROR_CAPTCHA_UNSOLVABLE": "The captcha could not be solved: try another solver.",
    "ERROR_NO_SUCH_METHOD": "There is no such method.",
    "ERROR_IMAGE_TYPE_NOT_SUPPORTED": "The image cannot be read: not a picture in a format we take.",
    "ERROR_NO_SUCH_CAPCHA_ID": "No such captcha: unknown, expired, or sent with another key.",
    "ERROR_WRONG_CAPTCHA_ID": "No such captcha: unknown, expired, or sent with another key.",
    "ERROR_WRONG_ID_FORMAT": "The captcha id is not in a valid format.",
    "ERROR_IP_BLOCKED": "This IP address is blocked.",
    "IP_BANNED": "This IP address is blocked.",
    "ERROR_TASK_ABSENT": "The task is missing.",
    "ERROR_TASK_NOT_SUPPORTED": "This task type is not supported.",
    "ERROR_BAD_PARAMETERS": "Some parameters are missing or wrong.",
    "ERROR_DUPLICATE_REPORT": "This captcha was reported on already.",
}


def error_text(code):
    """What 2captcha's JSON answers say of the error ``code`` in words (``error_text``)."""
    return ERROR_TEXTS.get(code, "The request could not be served.")


def legacy_code(code):
    """``code`` as 2captcha's in.php/res.php say it."""
    return LEGACY_CODES.get(code, code)


def solver_error_of(http_error, otherwise):
    """An HTTP error of ours (too large a body, no read slot free, ...) in the protocol's words."""
    note_refusal(http_error.name.lower().replace(" ", "_"))
    return SolverError(BY_HTTP_STATUS.get(http_error.code, otherwise), http_error.description)


def protocol_status(http_error):
    """The HTTP status of an HTTP error answered in a protocol's words: 200, as the services answer errors, but for
    an internal failure."""
    return 500 if http_error.code == 500 else 200
