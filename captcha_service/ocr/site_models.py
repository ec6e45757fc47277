"""Site models: our digit model fine-tuned on one site's captchas (``captcha-ocr finetune``), by name.

Each lives in ``MODELS_DIR/<name>/`` as ``digits.onnx`` and ``card.json`` (which holds its
calibration). A model is loaded on first use and reloaded when its file changes, so a model
written while the server runs is served without a restart. At most ``capacity`` stay loaded:
the least recently used one is dropped first.
"""

import json
import pathlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .confidence import STEADY_SIGNALS, Calibration
from .digit_model import DigitModel
from .exceptions import UnreadableInput
from .recogniser import session_options

MODEL_FILE_NAME, CARD_FILE_NAME = "digits.onnx", "card.json"
SITE_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")  # \Z: re.match (marshmallow's) anchors the start only
GENERAL = "general"  # no site model: the service's OCR_MODEL (also the samples folder of its answers)


def check_site_model_name(name):
    """Refuse a name that is not a plain folder name (no path can be smuggled in), or the reserved one."""
    if not SITE_MODEL_NAME.fullmatch(name) or name == GENERAL:
        raise ValueError(f"a model name is 1-64 letters, digits, '_' or '-' (not starting with '_' or '-', not {GENERAL!r}): {name!r}")


@dataclass(frozen=True)
class SiteModel:
    """A loaded site model: ``Recogniser.read`` reads with it in our digit model's place."""

    name: str
    digit_model: DigitModel
    calibration: Calibration
    stamp: float  # the model file's modification time when it was loaded


class SiteModels:
    def __init__(self, directory, capacity, log_severity):
        self.directory, self.capacity = pathlib.Path(directory), capacity
        self._options = session_options(log_severity, 1)
        self._options.enable_cpu_mem_arena = False
        self._loaded = OrderedDict()
        self._lock = threading.Lock()

    def names(self):
        if not self.directory.is_dir():
            return []
        return sorted(
            folder.name for folder in self.directory.iterdir()
            if SITE_MODEL_NAME.fullmatch(folder.name) and (folder / MODEL_FILE_NAME).is_file() and (folder / CARD_FILE_NAME).is_file()
        )

    def card(self, name):
        return json.loads((self.directory / name / CARD_FILE_NAME).read_text())

    def get(self, name):
        """The loaded model ``name``; an unknown name is refused with the known ones."""
        if not SITE_MODEL_NAME.fullmatch(name) or name not in self.names():
            known = ", ".join(self.names()) or "none yet"
            raise UnreadableInput(f"no site model {name!r}; known models: {known}", "unknown_model")
        stamp = (self.directory / name / MODEL_FILE_NAME).stat().st_mtime
        with self._lock:
            model = self._loaded.get(name)
            if model is None or model.stamp != stamp:
                model = self._load(name, stamp)
                self._loaded[name] = model
            self._loaded.move_to_end(name)
            while len(self._loaded) > self.capacity:
                self._loaded.popitem(last=False)
        return model

    def _load(self, name, stamp):
        calibration = self.card(name)["calibration"]
        if len(calibration["weights"]) != STEADY_SIGNALS:
            # Written by an older finetune, calibrated on other signals: its confidences would mean nothing.
            raise UnreadableInput(f"site model {name!r} was fine-tuned by an older version: run finetune again", "outdated_model")
        return SiteModel(
            name, DigitModel(self._options, path=self.directory / name / MODEL_FILE_NAME),
            Calibration(tuple(calibration["weights"]), calibration["bias"]), stamp,
        )
