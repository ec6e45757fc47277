"""The ``ocr`` blueprint: read a captcha, and tell monitors we are up."""

from flask import Blueprint, current_app, request

from . import __version__
from .admission import within_capacity
from .auth import api_key_required
from .extension import ocr
from .payload import decode_image_payload
from .schemas import OcrRequestSchema

bp = Blueprint("ocr", __name__)
ocr_request_schema = OcrRequestSchema()


@bp.get("/")
def health():
    """Health check for probes: up (it answers), and ready (model loaded and warmed up) or not.
    ---
    tags: [health]
    produces: [application/json]
    responses:
      200:
        description: Up and ready to read captchas.
        schema:
          $ref: '#/definitions/Health'
      503:
        description: Up, but the model is still loading ("status" is "starting"). Retry shortly.
        schema:
          $ref: '#/definitions/Health'
    """
    ready = ocr.ready
    body = {
        "status": "ok" if ready else "starting",
        "ready": ready,
        "model": current_app.config["OCR_MODEL"],
        "digits": current_app.config["OCR_DIGITS"],
        "min_confidence": current_app.config["MIN_CONFIDENCE"],
        "version": __version__,
    }
    return body, 200 if ready else 503


@bp.post("/ocr")
@api_key_required
@within_capacity
def read_captcha():
    """Read the digits of a captcha image.
    ---
    tags: [ocr]
    consumes: [application/json]
    produces: [application/json]
    security:
      - bearer: []
      - api_key: []
    parameters:
      - in: body
        name: body
        required: true
        schema:
          $ref: '#/definitions/OcrRequest'
    responses:
      200:
        description: >-
          The digits were read. Use `digits` to fill in a form: `number` is an integer and
          loses leading zeros (0371 -> 371).
        schema:
          $ref: '#/definitions/OcrResponse'
      413:
        description: The body is larger than the configured limit.
        schema:
          $ref: '#/definitions/Error'
      401:
        description: API keys are set and the request has no valid one.
        schema:
          $ref: '#/definitions/Error'
      415:
        description: The body is not JSON (Content-Type must be application/json).
        schema:
          $ref: '#/definitions/Error'
      422:
        description: >-
          No sure reading: no or empty image field, both fields with different values, not
          base64, not an image, malformed JSON, a length or min_confidence out of range, no
          reading of the expected length, or a reading below min_confidence (then the body
          also has `digits` and `confidence`). Fall back to another solver.
        schema:
          $ref: '#/definitions/Refusal'
      503:
        description: Overloaded (no read could start within READ_WAIT_SECONDS), or the model is still loading. Retry after Retry-After.
        schema:
          $ref: '#/definitions/Error'
    """
    fields = ocr_request_schema.load(request.get_json())
    image_bytes = decode_image_payload(fields["image_base64"])
    reading = ocr.read(image_bytes, fields["length"], fields["min_confidence"])
    return {"number": reading.number, "digits": reading.digits, "confidence": reading.confidence}
