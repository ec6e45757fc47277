"""The ``ocr`` blueprint: read a captcha, and tell probes whether we are ready."""

from flasgger import swag_from
from flask import Blueprint, current_app, request
from werkzeug.exceptions import NotFound, ServiceUnavailable

from ..version import __version__
from .auth import api_key_required
from .docs import read_captcha_openapi
from .extension import ocr
from .inputs import image_and_options
from .recent import RecentUnavailable
from .reports import UnknownRequest, read_remembered, report
from .schemas import ReportSchema

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


@bp.get("/models")
@api_key_required
def models():
    """The site models this service can read with (``model`` in a request), with their cards' figures.
    ---
    tags: [ocr]
    responses:
      200:
        description: >-
          {"general": OCR_MODEL, "models": [{"name", "trained", "images", "held_out", ...}]}: each
          site model's card as `captcha-ocr finetune` wrote it; a model that cannot be used has
          "usable": false and "problem" instead.
        content:
          application/json:
            schema: {type: object}
    """
    return {"general": current_app.config["OCR_MODEL"], "models": ocr.pipeline.site_models.listing()}


@bp.post("/ocr")
@api_key_required
@swag_from(read_captcha_openapi())  # the query, form and raw-image parts; merged with the YAML below
def read_captcha():
    """Read the digits of a captcha image: JSON base64, a form upload, or the image itself.
    ---
    tags: [ocr]
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
          also has `digits` and `confidence`, and `reason` is `unfamiliar` where our model and
          ddddocr read it differently). Fall back to another solver.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Refusal'
      503:
        description: >-
          Overloaded (no read could start within READ_WAIT_SECONDS), or the model is still loading.
          Retry after Retry-After.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
    """
    image_bytes, options = image_and_options(request)
    reading = read_remembered(image_bytes, options.get("length"), options.get("min_confidence"), options.get("model"))
    return {"number": reading.number, "digits": reading.digits, "confidence": reading.confidence}


report_schema = ReportSchema()


@bp.post("/ocr/report")
@api_key_required
def report_answer():
    """Report whether an earlier answer was right: counted, and with SAMPLES_DIR its image kept, labelled.
    ---
    tags: [ocr]
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [request_id]
            properties:
              request_id: {type: string, description: "The X-Request-ID of the answer (or refusal) reported on"}
              correct: {type: boolean, description: "true: our digits were right"}
              digits: {type: string, description: "The right digits (3 to 8)"}
    responses:
      200:
        description: >-
          Recorded: {"request_id", "verdict": "right"|"wrong"|"refused" (a refusal's report), "counted": false
          for a second report on one request (it relabels the image, it is not counted again), "sample": path
          under SAMPLES_DIR, or null when nothing was written (no SAMPLES_DIR, or a wrong answer without the
          right digits)}, and
          "not_kept": why, when the image could not be kept (SAMPLES_MAX_BYTES reached, or the disk refused).
        content:
          application/json:
            schema: {type: object}
      404:
        description: >-
          No recent request of yours with that id (unknown, another key's, refused before any
          reading, or beyond SAMPLES_KEPT / SAMPLES_KEPT_SECONDS).
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
      422:
        description: Neither correct nor digits, digits that are not 3 to 8 digits, or correct on a refusal.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
      503:
        description: With REDIS_URL, Redis cannot be reached for a moment (Retry-After); report again.
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Error'
    """
    fields = report_schema.load(request.get_json())
    try:
        verdict, recorded = report(fields["request_id"], fields["correct"], fields["digits"])
    except UnknownRequest:
        raise NotFound(
            f"no recent request {fields['request_id']!r} of yours: unknown, "
            "or no longer kept (SAMPLES_KEPT, SAMPLES_KEPT_SECONDS)"
        ) from None
    except RecentUnavailable as lost:
        raise ServiceUnavailable(str(lost), retry_after=1) from None
    return {"request_id": fields["request_id"], "verdict": verdict, **recorded}
