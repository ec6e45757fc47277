"""Which digit model never saw which family: the leave-one-family-out protocol of bench.calibrate and bench.accuracy.

The shipped model trained on four outside generators (training/data.SOURCES). On their folders
of ../shared/captchas it reads captchas it knows, which says nothing of a family it has never
seen. So each of those folders is read by a model trained without its generator
(``make lofo-models``, a smaller budget than the shipped model's); every other folder, whose
family no training draws from, by the shipped model. Calibration fitted on those readings is
fitted on what unseen families look like to us, which is what users send.
"""

import pathlib

from captcha_service.ocr.digit_model import MODEL_FILE

LOFO_MODELS = pathlib.Path(__file__).resolve().parent / "lofo_models"
# The folders of ../shared/captchas drawn by a generator training uses, and that generator's name there.
TRAINED_ON = {
    "captcha_py": "captcha",
    "wheezy_captcha": "wheezy",
    "gregwar_captcha": "gregwar",
    "django_simple_captcha": "django",
}


def unseeing_model(folder):
    """The digit model file that never saw ``folder``'s family."""
    source = TRAINED_ON.get(folder)
    if source is None:
        return MODEL_FILE
    path = LOFO_MODELS / f"without-{source}.onnx"
    if not path.exists():
        raise SystemExit(f"{path} is missing: make lofo-models trains it")
    return path
