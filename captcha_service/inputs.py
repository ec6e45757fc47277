"""The three ways a request may carry its image: JSON base64, a form upload, or the image itself."""

from .ocr.exceptions import UnreadableInput
from .ocr.images import IMAGE_MEDIA_TYPES
from .ocr.payload import decode_image_payload
from .ocr.reasons import Reason
from .schemas import OcrRequestSchema, ReadOptionsSchema

UPLOAD_FIELDS = ("image", "file")

ocr_request_schema = OcrRequestSchema()
read_options_schema = ReadOptionsSchema()


def image_and_options(request):
    """(image bytes, {"length", "min_confidence"}) of a request to /ocr, or a 4xx exception.

    Options come from the query string, overridden by the JSON body or the form fields.
    Any other content type is answered 415 by the JSON parser.
    """
    options = read_options_schema.load(request.args)
    if request.mimetype == "multipart/form-data":
        image_bytes = _uploaded_image(request.files)
        given = read_options_schema.load(request.form)
    elif request.mimetype in IMAGE_MEDIA_TYPES:
        image_bytes, given = request.get_data(), {}
        if not image_bytes:
            raise UnreadableInput("the image is empty", Reason.EMPTY_IMAGE)
    else:
        fields = ocr_request_schema.load(request.get_json())
        image_bytes, given = decode_image_payload(fields.pop("image_base64")), fields
    return image_bytes, options | {name: value for name, value in given.items() if value is not None}


def _uploaded_image(files):
    for field in UPLOAD_FIELDS:
        if field in files:
            image_bytes = files[field].read()
            if not image_bytes:
                raise UnreadableInput(f"the uploaded '{field}' is empty", Reason.EMPTY_IMAGE)
            return image_bytes
    raise UnreadableInput("no image: upload the file in the form field 'image' (or 'file')", Reason.NO_IMAGE)
