"""The JSON bodies of the API: validation of requests and the documented shape of answers."""

from collections.abc import Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from ..ocr.asks import LEAST_CONFIDENCE, LONGEST, MOST_CONFIDENCE, SHORTEST
from ..ocr.site_models import SITE_MODEL_NAME

EXAMPLE_IMAGE = (
    "iVBORw0KGgoAAAANSUhEUgAAAKAAAAA8CAAAAADEAO7JAAAAU0lEQVR4nO3OsQEAEADAMPz/MycYMjA0F2Tu8bf1OnBTUBVUBVVB"
    "VVAVVAVVQVVQFVQFVUFVUBVUBVVBVVAVVAVVQVVQFVQFVUFVUBVUBVVBVVAdlcMBd2UeHJEAAAAASUVORK5CYII="
)
# Other names clients send the base64 image under: the older service's, and ddddocr-fastapi's.
IMAGE_ALIASES = ("text", "image")


def _length_field(strict):
    return fields.Integer(
        strict=strict,
        load_default=None,
        validate=validate.Range(SHORTEST, LONGEST, error=f"must be a whole number from {SHORTEST} to {LONGEST}"),
        error_messages={"invalid": f"must be a whole number from {SHORTEST} to {LONGEST}"},
        metadata={
            "description": "How many digits the captcha has (default: with model, the length the site model was "
            "fine-tuned on, else the server's OCR_DIGITS, 4).",
            "example": 4,
        },
    )


def _min_confidence_field():
    return fields.Float(
        load_default=None,
        validate=validate.Range(LEAST_CONFIDENCE, MOST_CONFIDENCE, error="must be a number from 0 to 1"),
        error_messages={"invalid": "must be a number from 0 to 1", "special": "must be a number from 0 to 1"},
        metadata={
            "description": "Refuse (422) readings less sure than this "
            "(default: the server's MIN_CONFIDENCE, 0.9). 0 answers every reading.",
            "example": 0.9,
        },
    )


def _model_field():
    return fields.String(
        load_default=None,
        validate=validate.Regexp(
            SITE_MODEL_NAME, error="must be a site model's name: 1-64 letters, digits, '_' or '-'"
        ),
        metadata={
            "description": "A site model to read with (see GET /models); default: the general model.",
            "example": "general",
        },
    )


class ReadOptionsSchema(Schema):
    """``length``, ``min_confidence`` and ``model`` as text: from the query string or form fields."""

    class Meta:
        unknown = EXCLUDE

    length = _length_field(strict=False)
    min_confidence = _min_confidence_field()
    model = _model_field()


class OcrRequestSchema(ReadOptionsSchema):
    """``{"image_base64": "..."}``; ``{"text": "..."}`` (the older service) and ``{"image": "..."}``
    (ddddocr-fastapi's clients) are accepted too.

    Its ``length`` must be a JSON whole number, not text: JSON has numbers.
    """

    error_messages = {"type": "the body must be a JSON object"}

    image_base64 = fields.String(
        required=True,
        validate=validate.Length(min=1, error="is empty"),
        error_messages={
            "required": "missing; send the base64 image in 'image_base64' (or its aliases 'text', 'image')",
            "null": "must be a base64 string, not null",
            "invalid": "must be a base64 string",
        },
        metadata={
            "description": "The captcha image (PNG, JPEG, GIF, BMP or WebP) as base64 or as a "
            "data URL (data:image/png;base64,...). Line breaks and missing padding are tolerated. "
            "The field names 'text' (the older service's) and 'image' are accepted too.",
            # A white 160x60 PNG: "Try it out" as it stands is answered, a clear 422 "no reading".
            "example": EXAMPLE_IMAGE,
        },
    )
    length = _length_field(strict=True)

    @pre_load
    def accept_image_aliases(self, data, **kwargs):
        """Map ``text`` or ``image`` onto ``image_base64``; refuse names that hold different images."""
        if not isinstance(data, Mapping):
            return data
        given = [name for name in ("image_base64", *IMAGE_ALIASES) if name in data]
        if len({repr(data[name]) for name in given}) > 1:
            raise ValidationError(
                f"{' and '.join(repr(name) for name in given)} hold different images; send one of them"
            )
        return {**data, "image_base64": data[given[0]]} if given else data


class ReportSchema(Schema):
    """A report on an earlier answer: ``{"request_id", "correct": true}`` or ``{"request_id", "digits"}``."""

    error_messages = {"type": "the body must be a JSON object"}

    request_id = fields.String(required=True, metadata={"description": "The X-Request-ID of the answer reported on."})
    correct = fields.Boolean(
        load_default=None,
        metadata={"description": "true: our digits were right (false without digits: wrong, no label)."},
    )
    digits = fields.String(
        load_default=None,
        validate=validate.Regexp(rf"[0-9]{{{SHORTEST},{LONGEST}}}\Z", error=f"must be {SHORTEST} to {LONGEST} digits"),
        metadata={"description": "The right digits (for a wrong answer, or a refusal)."},
    )

    @validates_schema
    def correct_or_digits(self, data, **kwargs):
        if data.get("correct") is None and data.get("digits") is None:
            raise ValidationError("send 'correct': true (our digits were right) or the right 'digits'")


class OcrResponseSchema(Schema):
    """A sure reading."""

    number = fields.Integer(
        required=True,
        metadata={"description": "The digits as an integer (leading zeros are lost: 0371 -> 371)."},
    )
    digits = fields.String(
        required=True,
        metadata={"description": "The exact digits, leading zeros kept: type this into the form."},
    )
    confidence = fields.Float(
        required=True,
        metadata={"description": "Calibrated probability in [0, 1] that the digits are right."},
    )


class ErrorSchema(Schema):
    """Every error answer, whatever its status."""

    detail = fields.String(required=True, metadata={"description": "What went wrong, for a person."})


class RefusalSchema(ErrorSchema):
    """A 422: ``detail``, why as a code, and for an unsure reading also what was read and how sure."""

    reason = fields.String(
        metadata={
            "description": "Why, as a stable code: bad_base64, not_an_image, no_reading, low_confidence, unfamiliar "
            "(our model and ddddocr read it differently: a site model would help), ... "
            "(absent for a malformed request)."
        }
    )
    digits = fields.String(metadata={"description": "low_confidence and unfamiliar only: the digits read."})
    confidence = fields.Float(metadata={"description": "low_confidence and unfamiliar only: their confidence."})


class HealthSchema(Schema):
    """The answer of ``GET /``."""

    status = fields.String(
        required=True, metadata={"description": "'ok' once the model is loaded and warmed up, 'starting' before."}
    )
    ready = fields.Boolean(required=True, metadata={"description": "Whether /ocr can read now."})
    model = fields.String(required=True, metadata={"description": "The ddddocr model in use."})
    digits = fields.Integer(required=True, metadata={"description": "Default number of digits a captcha has."})
    min_confidence = fields.Float(required=True, metadata={"description": "Default min_confidence."})
    version = fields.String(required=True, metadata={"description": "The service's version."})
