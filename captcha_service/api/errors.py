"""One JSON error envelope for every failure: ``{"detail": "..."}`` with the right status."""

from flask import Request, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException, UnprocessableEntity, UnsupportedMediaType

from ..ocr.exceptions import UnreadableInput
from ..ocr.images import IMAGE_MEDIA_TYPES
from ..ocr.reasons import Reason
from .outcome import note_refusal


class JsonBodyRequest(Request):
    """A request whose JSON failures are the old service's: 415 wrong type, 422 malformed."""

    def get_json(self, *args, **kwargs):
        try:
            return super().get_json(*args, **kwargs)
        except RecursionError:
            raise UnprocessableEntity("malformed JSON: nested too deeply") from None

    def on_json_loading_failed(self, error):
        if error is None:
            raise UnsupportedMediaType(
                "send JSON (application/json), a form (multipart/form-data or application/x-www-form-urlencoded) "
                f"or the image itself ({', '.join(IMAGE_MEDIA_TYPES)})"
            )
        raise UnprocessableEntity(f"malformed JSON: {error}")


def init_app(app):
    """Answer every HTTP error, validation error and unreadable input with the JSON envelope."""
    app.request_class = JsonBodyRequest
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(ValidationError, validation_error_response)
    app.register_error_handler(UnreadableInput, unreadable_input_response)


def http_error_response(error):
    """Keep the status and headers (e.g. ``Allow`` on 405) but replace the HTML body."""
    note_refusal(error.name.lower().replace(" ", "_"))
    response = error.get_response()
    response.set_data(jsonify(detail=error.description).get_data())
    response.content_type = "application/json"
    return response


def validation_error_response(error):
    note_refusal(Reason.INVALID_REQUEST)
    return jsonify(detail=_flatten_messages(error.messages)), 422


def unreadable_input_response(error):
    note_refusal(error.reason, error.extra.get("digits"), error.extra.get("confidence"))
    return jsonify(detail=error.detail, reason=error.reason, **error.extra), 422


def _flatten_messages(messages, field=None):
    """Turn marshmallow's nested messages into one sentence, naming the field at fault."""
    if isinstance(messages, dict):
        return "; ".join(_flatten_messages(value, None if key == "_schema" else key) for key, value in messages.items())
    if isinstance(messages, list):
        return "; ".join(_flatten_messages(message, field) for message in messages)
    return f"{field}: {messages}" if field else str(messages)
