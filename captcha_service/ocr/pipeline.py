"""The whole read of one image as the service does it, without Flask: for the app and the CLI."""

from dataclasses import dataclass

from ..config import intra_op_threads
from .exceptions import UnreadableInput
from .images import ImageLimits, decode_picture, guard_pillow
from .recogniser import Recogniser


@dataclass(frozen=True)
class CaptchaPipeline:
    """Image bytes in, a sure reading out: limits, decoding, models, threshold. Built once; shared by all threads."""

    recogniser: Recogniser
    limits: ImageLimits

    @classmethod
    def from_config(cls, config):
        """Load the models of ``OCR_MODEL`` and warm them up; limits from the ``MAX_*`` settings."""
        recogniser = Recogniser(config["OCR_MODEL"], config["ORT_LOGGING_LEVEL"], intra_op_threads(config))
        recogniser.warm_up()
        limits = ImageLimits.from_config(config)
        guard_pillow(limits)
        return cls(recogniser, limits)

    def read(self, image_bytes, length, min_confidence):
        """Read ``length`` digits; refuse, with what was read, a reading less sure than ``min_confidence``."""
        reading = self.recogniser.read(decode_picture(image_bytes, self.limits), length)
        if reading.confidence < min_confidence:
            raise UnreadableInput(
                f"low confidence: read {reading.digits} with confidence {reading.confidence}, "
                f"below min_confidence {min_confidence}",
                "low_confidence",
                digits=reading.digits,
                confidence=reading.confidence,
            )
        return reading
