"""The whole read of one image as the service does it, without Flask: for the app and the CLI."""

import os
from dataclasses import dataclass

from .exceptions import UnreadableInput
from .images import ImageLimits, decode_picture, guard_pillow
from .reasons import Reason
from .recogniser import Recogniser
from .site_models import GENERAL, SiteModels


def intra_op_threads(config):
    """onnxruntime threads per run of ddddocr's models: ``ORT_INTRA_OP_THREADS``, or 0 for up to 2 (their sweet
    spot)."""
    return config["ORT_INTRA_OP_THREADS"] or min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class CaptchaPipeline:
    """Image bytes in, a sure reading out: limits, decoding, models, threshold. Built once; shared by all threads."""

    recogniser: Recogniser
    limits: ImageLimits
    site_models: SiteModels

    @classmethod
    def from_config(cls, config):
        """Load the models of ``OCR_MODEL`` and warm them up; limits from the ``MAX_*`` settings."""
        recogniser = Recogniser(config["OCR_MODEL"], config["ORT_LOGGING_LEVEL"], intra_op_threads(config))
        recogniser.warm_up()
        limits = ImageLimits.from_config(config)
        guard_pillow(limits)
        return cls(
            recogniser,
            limits,
            SiteModels(config["MODELS_DIR"], config["SITE_MODELS_LOADED"], config["ORT_LOGGING_LEVEL"]),
        )

    def read(self, image_bytes, length, min_confidence, model=None):
        """Read ``length`` digits with the site model ``model`` (None: OCR_MODEL's); refuse, with what was read, a
        reading less sure than ``min_confidence``. ``length`` may be a range of lengths (a solver protocol's
        minLength..maxLength): the one of them the picture reads likeliest is read."""
        site_model = None if model in (None, GENERAL) else self.site_models.get(model)
        reading = self.recogniser.read(decode_picture(image_bytes, self.limits), length, site_model)
        if reading.confidence < min_confidence:
            raise _unsure(reading, min_confidence)
        return reading


def _unsure(reading, min_confidence):
    """The refusal of a reading below ``min_confidence``: ``unfamiliar`` when the two readers disagreed."""
    below = f"confidence {reading.confidence}, below min_confidence {min_confidence}"
    if reading.readers_agree is False:
        detail = (
            f"unfamiliar captcha: our model and ddddocr read it differently; the likelier reading {reading.digits} has "
            f"{below}. If this site's captchas are often refused so, a site model fine-tuned on them (captcha-ocr "
            "finetune) should read them"
        )
        return UnreadableInput(detail, Reason.UNFAMILIAR, digits=reading.digits, confidence=reading.confidence)
    detail = f"low confidence: read {reading.digits} with {below}"
    return UnreadableInput(detail, Reason.LOW_CONFIDENCE, digits=reading.digits, confidence=reading.confidence)
