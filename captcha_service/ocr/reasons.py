"""Why a request was refused: the stable codes of logs, metrics, 422 bodies and the solver protocols' errors (no Flask).

HTTP errors that are no refusal of the image (404, 405, 413, 503, ...) are named after their
status by the HTTP layer (``errors``); every other refusal has one of these.
"""

import enum


class Reason(enum.StrEnum):
    # the body or image cannot be decoded
    BAD_BASE64 = "bad_base64"
    NOT_AN_IMAGE = "not_an_image"
    DAMAGED_IMAGE = "damaged_image"
    EMPTY_IMAGE = "empty_image"
    NO_IMAGE = "no_image"  # a form with no upload
    IMAGE_TOO_LARGE = "image_too_large"
    BAD_SHAPE = "bad_shape"
    TOO_MANY_FRAMES = "too_many_frames"
    INVALID_REQUEST = "invalid_request"
    # the models read it, but not surely (``exceptions.UNSURE_REASONS``)
    NO_READING = "no_reading"
    LOW_CONFIDENCE = "low_confidence"
    UNFAMILIAR = "unfamiliar"  # our model and ddddocr read it differently
    # a site model that cannot serve
    UNKNOWN_MODEL = "unknown_model"
    UNUSABLE_MODEL = "unusable_model"
    OUTDATED_MODEL = "outdated_model"
    # the solver protocols' and reports' own
    NOT_DIGITS_ONLY = "not_digits_only"
    NOTHING_TO_CONFIRM = "nothing_to_confirm"
