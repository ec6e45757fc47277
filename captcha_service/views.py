"""The ``ocr`` blueprint: read a captcha, and tell monitors we are up."""

from flask import Blueprint, current_app, request

from . import __version__
from .extension import ocr
from .images import open_image
from .payload import decode_image_payload
from .schemas import OcrRequestSchema

bp = Blueprint("ocr", __name__)
ocr_request_schema = OcrRequestSchema()


@bp.get("/")
def health():
    """Health check for monitors: the service is up and its model is loaded.
    ---
    tags: [health]
    produces: [application/json]
    responses:
      200:
        description: The service is up and its model is loaded.
        schema:
          $ref: '#/definitions/Health'
    """
    return {
        "status": "ok",
        "model": ocr.reader.model_name,
        "digits": current_app.config["OCR_DIGITS"],
        "min_confidence": current_app.config["MIN_CONFIDENCE"],
        "version": __version__,
    }


@bp.post("/ocr")
def read_captcha():
    """Read the digits of a captcha image.
    ---
    tags: [ocr]
    consumes: [application/json]
    produces: [application/json]
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
    """
    fields = ocr_request_schema.load(request.get_json())
    image = open_image(decode_image_payload(fields["image_base64"]))
    reading = ocr.read(image, fields["length"], fields["min_confidence"])
    return {"number": reading.number, "digits": reading.digits, "confidence": reading.confidence}
