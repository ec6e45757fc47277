"""The JSON bodies of the API: validation of requests and the documented shape of answers."""

from collections.abc import Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

LEGACY_IMAGE_FIELD = "text"


class OcrRequestSchema(Schema):
    """``{"image_base64": "..."}``; the older service's ``{"text": "..."}`` is accepted too."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "the body must be a JSON object"}

    image_base64 = fields.String(
        required=True,
        validate=validate.Length(min=1, error="is empty"),
        error_messages={
            "required": "missing; send the base64 image in 'image_base64' (or its legacy alias 'text')",
            "null": "must be a base64 string, not null",
            "invalid": "must be a base64 string",
        },
        metadata={
            "description": "The captcha image (PNG, JPEG, GIF, BMP or WebP) as base64 or as a "
            "data URL (data:image/png;base64,...). Line breaks and missing padding are tolerated. "
            "The legacy field name 'text' is accepted too."
        },
    )

    @pre_load
    def accept_legacy_text_field(self, data, **kwargs):
        """Map ``text`` onto ``image_base64``; refuse both when they disagree."""
        if not isinstance(data, Mapping) or LEGACY_IMAGE_FIELD not in data:
            return data
        legacy_value = data[LEGACY_IMAGE_FIELD]
        if "image_base64" in data and data["image_base64"] != legacy_value:
            raise ValidationError("'image_base64' and 'text' hold different images; send one of them")
        return {**data, "image_base64": legacy_value}


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


class ErrorSchema(Schema):
    """Every error answer, whatever its status."""

    detail = fields.String(required=True, metadata={"description": "What went wrong, for a person."})


class HealthSchema(Schema):
    """The answer of ``GET /``."""

    status = fields.String(required=True, metadata={"description": "'ok' once the model is loaded."})
    model = fields.String(required=True, metadata={"description": "The ddddocr model in use."})
    digits = fields.Integer(required=True, metadata={"description": "How many digits a captcha has."})
    version = fields.String(required=True, metadata={"description": "The service's version."})
