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
BY_HTTP_STATUS = {413: "ERROR_TOO_BIG_CAPTCHA_FILESIZE", 429: "ERROR_NO_SLOT_AVAILABLE", 500: "ERROR_NO_SLOT_AVAILABLE", 503: "ERROR_NO_SLOT_AVAILABLE"}

# Our refusal reasons (UnreadableInput.reason) as the services say them.
BY_REASON = {
    Reason.EMPTY_IMAGE: "ERROR_ZERO_CAPTCHA_FILESIZE",
    Reason.NO_IMAGE: "ERROR_ZERO_CAPTCHA_FILESIZE",
    Reason.IMAGE_TOO_LARGE: "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
    Reason.TOO_MANY_FRAMES: "ERROR_TOO_BIG_CAPTCHA_FILESIZE",
    Reason.NOT_AN_IMAGE: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    Reason.DAMAGED_IMAGE: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    Reason.BAD_BASE64: "ERROR_IMAGE_TYPE_NOT_SUPPORTED",
    Reason.UNKNOWN_MODEL: "ERROR_BAD_PARAMETERS",  # a task's ``model`` that names none: the bot's mistake, not worth an upstream's fee
}  # every other reason (no reading, low confidence, an odd shape, a site model that cannot be used now) is UNSOLVABLE


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
