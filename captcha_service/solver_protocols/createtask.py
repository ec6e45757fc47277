"""The createTask JSON API of 2captcha v2, anti-captcha and CapSolver, for ``ImageToTextTask``.

``POST /createTask`` reads the image at once: its answer has the ``taskId`` and, as CapSolver's
does, a ``status``: ``"ready"`` with the solution, ``"processing"`` or ``"failed"`` (clients of
the others ignore them and poll ``/getTaskResult``). A captcha we are not sure of is a task whose result is error 12,
``ERROR_CAPTCHA_UNSOLVABLE``, as the services report it. Every answer is HTTP 200; errors are
``{"errorId", "errorCode", "errorDescription"}``.
"""

import math

from flasgger import swag_from
from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from ..api.outcome import note_refusal
from ..ocr.reasons import Reason
from .callbacks import CALLBACK_URL, callbacks_of
from .errors import SolverError, protocol_status, solver_error_of
from .solving import balance, client_of, image_of_base64, knobs_of, report_task, solve, whole_number
from .tasks import id_of_text, ready_result, task_store

bp = Blueprint("createtask", __name__)

TASK_TYPES = ("ImageToTextTask", "ImageToTextTaskProxyless")


@bp.post("/createTask", strict_slashes=False)
def create_task():
    """createTask (anti-captcha, 2captcha v2, CapSolver): an ImageToTextTask, read at once.
    ---
    tags: [solver protocols]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              clientKey: {type: string, description: "One of API_KEYS (any key when none are set)"}
              callbackUrl:
                type: string
                description: >-
                  a URL (of a host CALLBACK_HOSTS allows) POSTed what getTaskResult answers, when answered
              task:
                type: object
                properties:
                  type: {type: string, enum: [ImageToTextTask]}
                  body: {type: string, description: "The image in base64, or a data URL"}
                  numeric:
                    type: integer
                    description: "2 (letters only) and 4 (letters and digits) are unsolvable here"
                  minLength:
                    type: integer
                    description: >-
                      equal to maxLength, the digits to read; else, with it, a range: read at the length in it
                      the picture shows likeliest
                  maxLength: {type: integer}
                  recognizingThreshold:
                    type: integer
                    description: "CapMonster: answer only readings at least this sure (0-100); raises MIN_CONFIDENCE"
                  score:
                    type: number
                    description: "CapSolver: answer only readings at least this sure (0.8-1); raises MIN_CONFIDENCE"
                  math:
                    type: boolean
                    description: "a sum to work out: left to the upstream solver (unsolvable without one)"
                  phrase: {type: boolean, description: "words: left to the upstream solver (unsolvable without one)"}
                  case: {type: boolean, description: "passed on to the upstream solver"}
                  comment: {type: string, description: "passed on to the upstream solver"}
                  languagePool: {type: string, description: "passed on to the upstream solver"}
                  model:
                    type: string
                    description: >-
                      a site model to read with (GET /models); without minLength/maxLength, as many digits
                      as it learnt
    responses:
      200:
        description: >-
          {"errorId": 0, "taskId": N, "status": ...}: "ready" with "solution": {"text": ...} when
          read surely, "processing" while an upstream solves it, "failed" when unsure (getTaskResult
          says error 12); or {"errorId": N, "errorCode", "errorDescription"}: 1 key, 2 no read slot,
          3 empty image, 4 too big, 15 not an image, 22 no task, 23 not an ImageToTextTask.
        content:
          application/json:
            schema: {type: object, required: [errorId]}
    """
    body = _body()
    owner = _client(body)
    task = body.get("task")
    if not isinstance(task, dict):
        raise SolverError("ERROR_TASK_ABSENT", "'task' is missing or not an object")
    if task.get("type") not in TASK_TYPES:
        raise SolverError(
            "ERROR_TASK_NOT_SUPPORTED", f"task type {task.get('type')!r} is not supported: only ImageToTextTask"
        )
    image = task.get("body")
    if not isinstance(image, str) or not image.strip():
        note_refusal(Reason.EMPTY_IMAGE)
        raise SolverError("ERROR_ZERO_CAPTCHA_FILESIZE", "the task's 'body' (the base64 image) is missing or empty")
    callback_url = body.get("callbackUrl")
    callback = callbacks_of(current_app).callback(callback_url, CALLBACK_URL) if callback_url else None
    solved = solve(
        image_of_base64(image),
        owner,
        min_length=whole_number(task.get("minLength"), "minLength"),
        max_length=whole_number(task.get("maxLength"), "maxLength"),
        numeric=whole_number(task.get("numeric"), "numeric"),
        least_confidence=_least_confidence(task),
        knobs=knobs_of(task),
        callback=callback,
        model=_text(task, "model"),
    )
    # Always a status, as CapSolver answers: its SDK reads it unguarded (KeyError 'status' on a
    # refusal). "failed" sends a client to getTaskResult, whose error 12 says why.
    answer = {"errorId": 0, "taskId": solved.id}
    if solved.pending:
        answer["status"] = "processing"
    elif solved.digits is not None:
        answer |= {"status": "ready", "solution": {"text": solved.digits}}
    else:
        answer["status"] = "failed"
    return answer


@bp.post("/getTaskResult", strict_slashes=False)
def get_task_result():
    """getTaskResult: the solution of a task, or error 12 (unsolvable: fall back to another solver).
    ---
    tags: [solver protocols]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              clientKey: {type: string}
              taskId: {type: integer}
    responses:
      200:
        description: >-
          {"errorId": 0, "status": "ready", "solution": {"text": ...}}; or an error: 1 key,
          12 unsolvable, 16 no such task (unknown, expired, or another key's).
        content:
          application/json:
            schema: {type: object, required: [errorId]}
    """
    task = _task(_body())
    if task.pending:
        return {"errorId": 0, "status": "processing"}
    if task.error:
        raise SolverError(task.error, "no sure reading of this captcha: fall back to another solver")
    return ready_result(task.digits, task.created, task.receipt)


def _operation(description, **fields):
    """The OpenAPI description of a method whose body is ``clientKey`` and ``fields``, answered with an ``errorId``."""
    body = {"type": "object", "properties": {"clientKey": {"type": "string"}, **fields}}
    answer = {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "required": ["errorId"]}}},
    }
    return {
        "tags": ["solver protocols"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": answer},
    }


REPORT = _operation(
    '{"errorId": 0, "status": "success"}; a second report on a task answers so too, uncounted',
    taskId={"type": "integer"},
)


@bp.post("/getBalance", strict_slashes=False)
@swag_from(
    _operation(
        '{"errorId": 0, "balance": ...}: reading here costs nothing; with an upstream solver, '
        "its account's balance (or its account error: 10 ERROR_ZERO_BALANCE, 1 its key, 11 / 21 its IP)"
    )
)
def get_balance():
    """getBalance: a balance that never runs out, or the upstream solver's."""
    _client(_body())
    return {"errorId": 0, "balance": balance()}


@bp.post("/reportIncorrectImageCaptcha", strict_slashes=False)
@bp.post("/reportIncorrect", strict_slashes=False)
@swag_from(REPORT)
def report_incorrect():
    """reportIncorrectImageCaptcha / reportIncorrect: our answer to that task was wrong (counted once)."""
    report_task(_task(_body()), correct=False)  # a second report answers success too (anti-captcha's way), uncounted
    return {"errorId": 0, "status": "success"}


@bp.post("/reportCorrect", strict_slashes=False)
@swag_from(REPORT)
def report_correct():
    """reportCorrect: our answer to that task was right (with SAMPLES_DIR its image is kept, labelled)."""
    report_task(_task(_body()), correct=True)
    return {"errorId": 0, "status": "success"}


# Methods of anti-captcha's and CapSolver's APIs that are not for image captchas, or that we do
# not keep (queue and spending statistics): their "no such method", not our 404. The ids are
# anti-captcha's (https://anti-captcha.com/apidoc/errors).
OTHER_METHODS = (
    "getQueueStats",
    "getSpendingStats",
    "getAppStats",
    "reportIncorrectRecaptcha",
    "reportCorrectRecaptcha",
    "reportIncorrectHcaptcha",
    "pushAntiGateVariable",
    "feedbackTask",
)


CAPSOLVER_HEADER = "X-capsolver-Client-User-Agent"
# any other: 400
CAPSOLVER_STATUSES = {"ERROR_KEY_DOES_NOT_EXIST": 401, "ERROR_WRONG_USER_KEY": 401, "ERROR_NO_SLOT_AVAILABLE": 429}


@bp.post(f"/<any({', '.join(OTHER_METHODS)}):method>", strict_slashes=False)
def other_method(method):
    raise SolverError("ERROR_NO_SUCH_METHOD", f"{method} is not served here: only ImageToTextTask and its calls")


@bp.errorhandler(SolverError)
def solver_error(error):
    return error_body(error), _status_of(error)


def error_body(error):
    return {"errorId": error.error_id, "errorCode": error.code, "errorDescription": error.description}


@bp.errorhandler(HTTPException)
def http_error(error):
    """Too large a body, or no read slot free: their error ids, not our JSON envelope."""
    solver_failure = solver_error_of(error, otherwise="ERROR_TASK_ABSENT")
    return error_body(solver_failure), 500 if protocol_status(error) == 500 else _status_of(solver_failure)


def _status_of(error):
    """The HTTP status of an error: 200, as anti-captcha and 2captcha answer errors and their clients read them;
    for CapSolver's SDK, CapSolver's own statuses, by which it tells its errors apart (capsolver 1.0.7,
    api_requestor.handle_error_response: 400 a request it cannot do, 401 the key, 429 too many; at HTTP 200
    every error is its UnknownError). Its requests say who they are in CAPSOLVER_HEADER."""
    if CAPSOLVER_HEADER not in request.headers:
        return 200
    return CAPSOLVER_STATUSES.get(error.code, 400)


def _body():
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise SolverError("ERROR_TASK_ABSENT", 'send a JSON object: {"clientKey": ..., ...}')
    return body


def _client(body):
    key = body.get("clientKey")
    return client_of(key if isinstance(key, str) else "")


def _task(body):
    owner = _client(body)
    task_id = body.get("taskId")
    if isinstance(task_id, str):
        task_id = id_of_text(task_id)  # some clients send the id back as text
    task = (
        task_store(current_app).get(task_id, owner)
        if isinstance(task_id, int) and not isinstance(task_id, bool)
        else None
    )
    if task is None:
        raise SolverError("ERROR_NO_SUCH_CAPCHA_ID", "no such task: unknown, expired, or another key's")
    return task


def _least_confidence(task):
    """The confidence a task asks for at least, from 0 to 1, or None: CapMonster's ``recognizingThreshold``
    (0 to 100, docs.capmonster.cloud ImageToTextTask: below it the task is unsolvable and not charged)
    and CapSolver's ``score`` (0.8 to 1, docs.capsolver.com ImageToTextTask: the least matching degree)."""
    asked = []
    for name, scale in (("recognizingThreshold", 100.0), ("score", 1.0)):
        value = task.get(name)
        if value is None:
            continue
        number = _decimal(value)
        if number is None or not 0 <= number <= scale:  # read as absent, the answer came surer than asked for
            raise SolverError("ERROR_BAD_PARAMETERS", f"{name} must be a number from 0 to {scale:g}")
        asked.append(number / scale)
    return max(asked, default=None)


def _decimal(value):
    """A JSON number, or one written as text, as a float; None for anything else (NaN too)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except (ValueError, OverflowError):
        return None
    return None if number is None or math.isnan(number) else number


def _text(task, name):
    value = task.get(name)
    return value if isinstance(value, str) and value else None
