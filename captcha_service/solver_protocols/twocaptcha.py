"""2captcha's legacy API: ``POST /in.php`` sends a captcha, ``GET /res.php`` polls, balances and reports.

Answers are plain text (``OK|...`` or an error code), or with ``json=1`` ``{"status": 0|1,
"request": ...}``; always HTTP 200, errors included, as 2captcha answers. Fields come from the
query string and a form, or a JSON object body, as 2captcha's JavaScript clients send them.
"""

from flask import Blueprint, current_app, g, make_response, request
from werkzeug.exceptions import HTTPException

from ..api.outcome import note_refusal
from ..ocr.payload import base64_of_form
from ..ocr.reasons import Reason
from .callbacks import PINGBACK, callbacks_of
from .errors import SolverError, error_text, legacy_code, protocol_status, solver_error_of
from .solving import BALANCE, balance, client_of, image_of_base64, knobs_of, report_task, solve, whole_number
from .tasks import id_of_text, task_store

bp = Blueprint("twocaptcha", __name__)

NOT_READY = "CAPCHA_NOT_READY"  # their spelling
# res.php's reportgood / reportbad (with the captcha's id: OK_REPORT_RECORDED) and getbalance (the balance as text,
# "3.0781"), as 2captcha documents them (2captcha.com/2captcha-api, "Reporting answers", "Balance").
REPORTS = {"reportgood": True, "reportbad": False}
NO_KEY = "ERROR_WRONG_USER_KEY"  # 2captcha's answer to a missing or malformed key
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# res.php action=get with ids=a,b,c answers each in order, "|" between (2captcha: up to 100 ids);
# action=get2 gives the price beside the answer ("OK|text|price"), as rucaptcha's PHP client reads it.
MOST_IDS = 100
# in.php's names of the knobs a task may carry (2captcha's normal captcha), and the createTask API's for them.
FLAGS = {"phrase": "phrase", "regsense": "case", "calc": "math"}
TEXTS = {"textinstructions": "comment", "lang": "languagePool"}
PRICE = "0"  # what a captcha read here costs


@bp.post("/in.php")
def submit():
    """2captcha in.php: send a captcha (method=base64 with body, or method=post with a file).
    ---
    tags: [solver protocols]
    requestBody:
      required: true
      content:
        application/x-www-form-urlencoded:
          schema:
            type: object
            properties:
              key: {type: string}
              method: {type: string, enum: [base64, post]}
              body: {type: string}
              numeric: {type: integer}
              min_len:
                type: integer
                description: >-
                  equal to max_len, the digits to read; else, with it, a range: read at the length in it
                  the picture shows likeliest
              max_len: {type: integer}
              calc: {type: integer, enum: [0, 1], description: "a sum to work out: left to the upstream solver"}
              phrase: {type: integer, enum: [0, 1], description: "words: left to the upstream solver"}
              regsense: {type: integer, enum: [0, 1], description: "passed on to the upstream solver (as case)"}
              textinstructions: {type: string, description: "passed on to the upstream solver (as comment)"}
              lang: {type: string, description: "passed on to the upstream solver (as languagePool)"}
              model:
                type: string
                description: >-
                  a site model to read with (GET /models); without min_len/max_len, as many digits as it learnt
              pingback:
                type: string
                description: "a URL (of a host CALLBACK_HOSTS allows) sent id and code by POST when answered"
              json: {type: integer, enum: [0, 1]}
        multipart/form-data:
          schema:
            type: object
            properties:
              key: {type: string}
              method: {type: string, enum: [post]}
              file: {type: string, format: binary}
    responses:
      200:
        description: >-
          OK|<id>, or an error code as text (ERROR_WRONG_USER_KEY, ERROR_KEY_DOES_NOT_EXIST,
          ERROR_ZERO_CAPTCHA_FILESIZE, ERROR_TOO_BIG_CAPTCHA_FILESIZE, ERROR_IMAGE_TYPE_NOT_SUPPORTED,
          ERROR_NO_SLOT_AVAILABLE, ERROR_BAD_PARAMETERS); with json=1, {"status": 0|1, "request": ...}.
        content:
          text/plain:
            schema: {type: string}
          application/json:
            schema: {type: object}
    """
    values = _values()
    owner = client_of(values.get("key", ""), missing=NO_KEY)
    method = values.get("method", "")
    if method == "base64":
        image_bytes = image_of_base64(values.get("body", ""))
    elif method == "post":
        upload = request.files.get("file")
        image_bytes = upload.read() if upload else b""
        if not image_bytes:
            note_refusal(Reason.EMPTY_IMAGE)
            raise SolverError("ERROR_ZERO_CAPTCHA_FILESIZE", "no file, or an empty one, in the form field 'file'")
    else:
        raise SolverError("ERROR_BAD_PARAMETERS", "method must be 'base64' (with body) or 'post' (with a file)")
    callback = callbacks_of(current_app).callback(values["pingback"], PINGBACK) if values.get("pingback") else None
    task = solve(
        image_bytes,
        owner,
        min_length=whole_number(values.get("min_len"), "min_len"),
        max_length=whole_number(values.get("max_len"), "max_len"),
        numeric=whole_number(values.get("numeric"), "numeric"),
        knobs=knobs_of(_knobs(values)),
        callback=callback,
        model=values.get("model") or None,
    )
    return _answer("OK", str(task.id))


@bp.route("/res.php", methods=["GET", "POST"])
def result():
    """2captcha res.php: action=get (the answer; with ids=a,b,c several), get2 (the answer and its price), getbalance,
    reportgood or reportbad.
    ---
    tags: [solver protocols]
    parameters:
      - {name: key, in: query, schema: {type: string}}
      - name: action
        in: query
        required: true
        schema: {type: string, enum: [get, get2, getbalance, reportgood, reportbad]}
      - {name: id, in: query, schema: {type: string}}
      - {name: ids, in: query, description: "action=get: up to 100 ids, comma-separated", schema: {type: string}}
      - {name: json, in: query, schema: {type: integer, enum: [0, 1]}}
    responses:
      200:
        description: >-
          OK|<digits> (get2: OK|<digits>|<price>), for ids each answer in order joined by |, a balance,
          OK_REPORT_RECORDED, or an error code as text
          (ERROR_CAPTCHA_UNSOLVABLE, ERROR_WRONG_CAPTCHA_ID, ERROR_WRONG_ID_FORMAT, ...).
        content:
          text/plain:
            schema: {type: string}
          application/json:
            schema: {type: object}
    """
    values = _values()
    owner, action = client_of(values.get("key", ""), missing=NO_KEY), values.get("action", "")
    if action == "getbalance":
        return _answer(None, _balance_text(balance()))
    if action not in ("get", "get2", *REPORTS):
        raise SolverError("ERROR_BAD_PARAMETERS", "action must be get, get2, getbalance, reportgood or reportbad")
    if action == "get" and "ids" in values:
        return _answer(None, "|".join(_bulk_answer(text, owner) for text in _ids(values["ids"])))
    task = _task(values.get("id", ""), owner)
    if action in REPORTS:
        if not report_task(task, REPORTS[action]):
            raise SolverError("ERROR_DUPLICATE_REPORT", "this captcha was reported on already")
        return _answer(None, "OK_REPORT_RECORDED")
    if task.pending:
        return _answer(None, NOT_READY, ok=False)
    if task.error:
        raise SolverError(task.error, "no sure reading of this captcha")
    # the answer and its price (the upstream's cost for its answer): OK|digits|price, or with json=1 a "price" field
    if action == "get2":
        return _answer("OK", task.digits, price=task.receipt.cost if task.receipt else PRICE)
    return _answer("OK", task.digits)


def _task(text, owner):
    task_id = id_of_text(text)
    if task_id is None:
        raise SolverError("ERROR_WRONG_ID_FORMAT", "id must be the number in.php answered")
    task = task_store(current_app).get(task_id, owner)
    if task is None:
        raise SolverError("ERROR_WRONG_CAPTCHA_ID", "no such captcha: unknown, expired, or another key's")
    return task


def _ids(text):
    ids = text.split(",")
    if len(ids) > MOST_IDS:
        raise SolverError("ERROR_BAD_PARAMETERS", f"at most {MOST_IDS} ids at once")
    return ids


def _bulk_answer(text, owner):
    """One captcha's part of a bulk answer (``action=get&ids=...``): its digits, CAPCHA_NOT_READY, or its error code."""
    try:
        task = _task(text.strip(), owner)
    except SolverError as error:
        return error.code
    return NOT_READY if task.pending else legacy_code(task.error) if task.error else task.digits


@bp.errorhandler(SolverError)
def solver_error(error):
    return _answer(None, legacy_code(error.code), ok=False)


def _balance_text(value):
    """A balance as res.php writes it (2captcha: "3.0781"): BALANCE as ever, an upstream's to its last digit."""
    return f"{value:.2f}" if value == BALANCE else f"{value:.6f}".rstrip("0").rstrip(".")


@bp.errorhandler(HTTPException)
def http_error(error):
    """Too large a body, or no read slot free: their codes, not our JSON envelope."""
    response = make_response(solver_error(solver_error_of(error, otherwise="ERROR_BAD_PARAMETERS")))
    response.status_code = protocol_status(error)
    return response


@bp.after_request
def allow_any_origin(response):
    """``header_acao=1``: the answer may be read by a page of any origin (bots in browsers and extensions)."""
    if _field("header_acao") == "1":
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _answer(prefix, text, ok=True, price=None):
    if _wants_json():
        return json_body(text, ok) | ({"price": price} if price is not None else {})
    text = text if price is None else f"{text}|{price}"
    return (f"{prefix}|{text}" if prefix else text), 200, {"Content-Type": "text/plain; charset=utf-8"}


def json_body(text, ok=True):
    """With json=1: an error says its text too, as 2captcha's do (not CAPCHA_NOT_READY, which is no error)."""
    if ok or text == NOT_READY:
        return {"status": 1 if ok else 0, "request": text}
    return {"status": 0, "request": text, "error_text": error_text(text)}


def _values():
    """{field: text} of the query string and a form, or of the query string and a JSON object body;
    gathered once per request (the view, the answer's format and its CORS header all ask)."""
    if "twocaptcha_values" not in g:
        values = request.values.to_dict()
        if "body" in values:  # a form's base64, as /ocr reads a form's (a JSON body's is JSON's, and replaces it)
            values["body"] = base64_of_form(values["body"])
        if request.mimetype not in FORM_TYPES and request.content_length:
            body = request.get_json(force=True, silent=True)
            if isinstance(body, dict):
                values |= {name: text for name, value in body.items() if (text := _text(value)) is not None}
        g.twocaptcha_values = values
    return g.twocaptcha_values


def _text(value):
    """A JSON scalar as a form would carry it (``true`` as 1), or None for anything else."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value) if isinstance(value, (str, int, float)) else None


def _wants_json():
    return _field("json") == "1"


def _field(name):
    try:
        return _values().get(name)
    except HTTPException:  # a body too large to parse: only the query string can say
        return request.args.get(name)


def _knobs(values):
    """in.php's fields that say more of the captcha (2captcha's names), named as createTask names them."""
    return {name: values[field] for fields in (FLAGS, TEXTS) for field, name in fields.items() if field in values}
