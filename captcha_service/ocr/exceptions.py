"""The one domain error of the service: input we cannot turn into a sure reading."""

from .reasons import Reason


class UnreadableInput(Exception):
    """The client's input cannot be read into digits; answered with 422 and ``detail``.

    ``reason`` is a ``Reason`` (a stable code: ``bad_base64``, ``not_an_image``, ...) for logs and
    metrics; ``extra`` holds fields added to the error body next to ``detail``.
    """

    def __init__(self, detail, reason, **extra):
        super().__init__(detail)
        self.detail = detail
        self.reason = reason
        self.extra = extra

    def __reduce__(self):
        """Pickled whole (a training worker's refusal reaches its parent process): not as ``Exception(detail)``."""
        return type(self), (self.detail, self.reason), {"extra": self.extra}


# Refusals of an image the models did read, but not surely: the samples worth most to a site model.
# Every other refusal is of input that never reached them (not an image, too large, an unknown model).
UNSURE_REASONS = frozenset({Reason.NO_READING, Reason.LOW_CONFIDENCE, Reason.UNFAMILIAR})
