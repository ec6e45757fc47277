"""The ways a request may carry its image: JSON base64, a form (an upload, or base64 in a field), or the image
itself."""

from ..ocr.exceptions import UnreadableInput
from ..ocr.images import IMAGE_MEDIA_TYPES
from ..ocr.payload import base64_of_form, decode_image_payload
from ..ocr.reasons import Reason
from .schemas import OcrRequestSchema, ReadOptionsSchema

UPLOAD_FIELDS = ("image", "file")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
BASE64_FORM_FIELD = "image"  # ddddocr-fastapi's clients send the base64 text in this form field

ocr_request_schema = OcrRequestSchema()
read_options_schema = ReadOptionsSchema()


def image_and_options(request):
    """(image bytes, {"length", "min_confidence"}) of a request to /ocr, or a 4xx exception.

    Options come from the query string, overridden by the JSON body or the form fields.
    Any other content type is answered 415 by the JSON parser.
    """
    options = read_options_schema.load(request.args)
    if request.mimetype in FORM_TYPES:
        image_bytes = _form_image(request.files, request.form)
        given = read_options_schema.load(request.form)
    elif request.mimetype in IMAGE_MEDIA_TYPES:
        image_bytes, given = request.get_data(), {}
        if not image_bytes:
            raise UnreadableInput("the image is empty", Reason.EMPTY_IMAGE)
    else:
        fields = ocr_request_schema.load(request.get_json())
        image_bytes, given = decode_image_payload(fields.pop("image_base64")), fields
    return image_bytes, options | {name: value for name, value in given.items() if value is not None}


def _form_image(files, form):
    """The one image a form carries: an upload (``image`` or ``file``) or base64 in the field ``image``.

    An upload with no file chosen (a browser sends it empty, unnamed) is no image; two images that
    differ are refused, as JSON refuses two fields that hold different images.
    """
    uploads = {field: files[field].read() for field in UPLOAD_FIELDS if field in files}
    given = {field: data for field, data in uploads.items() if data or files[field].filename}
    if BASE64_FORM_FIELD in form:
        # A client that did not percent-encode the text sent each '+' of it as a space; base64 has no spaces.
        given["base64 " + BASE64_FORM_FIELD] = decode_image_payload(base64_of_form(form[BASE64_FORM_FIELD]))
    if len(set(given.values())) > 1:
        raise UnreadableInput(
            f"the form holds different images in {' and '.join(map(repr, given))}: send one", Reason.NO_IMAGE
        )
    for field, image_bytes in given.items():
        if not image_bytes:
            raise UnreadableInput(f"the uploaded '{field}' is empty", Reason.EMPTY_IMAGE)
        return image_bytes
    raise UnreadableInput(
        f"no image: upload the file in the form field 'image' (or 'file'), "
        f"or send its base64 in the field '{BASE64_FORM_FIELD}'",
        Reason.NO_IMAGE,
    )
