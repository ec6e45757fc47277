"""The ``ocr`` blueprint: read a captcha, and tell probes whether we are ready."""

from flasgger import swag_from
from flask import Blueprint, current_app, request

from .auth import api_key_required
from .docs import read_captcha_openapi
from .extension import ocr
from .inputs import image_and_options
from .version import __version__

bp = Blueprint("ocr", __name__)


@bp.get("/")
def health():
    """Health check for probes: up (it answers), and ready (model loaded and warmed up) or not.
    ---
    tags: [health]
    responses:
      200:
        description: Up and ready to read captchas.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Health'
      503:
        description: Up, but the model is still loading ("status" is "starting"). Retry shortly.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Health'
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
@swag_from(read_captcha_openapi())  # the query, form and raw-image parts; merged with the YAML below
def read_captcha():
    """Read the digits of a captcha image: JSON base64, a form upload, or the image itself.
    ---
    tags: [ocr]
    security:
      - {}
      - bearer: []
      - api_key: []
    requestBody:
      required: true
      content:
        application/json:
          schema:
            $ref: '#/components/schemas/OcrRequest'
    responses:
      200:
        description: >-
          The digits were read. Use `digits` to fill in a form: `number` is an integer and
          loses leading zeros (0371 -> 371).
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/OcrResponse'
      401:
        description: API keys are set and the request has no valid one.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
      413:
        description: The body is larger than the configured limit.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
      415:
        description: The body is none of JSON, a multipart form, or an image type listed here.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
      422:
        description: >-
          No sure reading: no or empty image, both JSON fields with different values, not
          base64, not an image, malformed JSON, a length or min_confidence out of range, no
          reading of the expected length, or a reading below min_confidence (then the body
          also has `digits` and `confidence`). Fall back to another solver.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Refusal'
      503:
        description: Overloaded (no read could start within READ_WAIT_SECONDS), or the model is still loading. Retry after Retry-After.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
    """
    image_bytes, options = image_and_options(request)
    reading = ocr.read(image_bytes, options.get("length"), options.get("min_confidence"))
    return {"number": reading.number, "digits": reading.digits, "confidence": reading.confidence}
