"""Site models: our digit model fine-tuned on one site's captchas (``captcha-ocr finetune``), by name.

Each lives in ``MODELS_DIR/<name>/`` as ``digits.onnx`` and ``card.json`` (which holds its
calibration and the length of the captchas it learnt: a request naming the model without a length
reads that many digits). A model is loaded on first use and reloaded when its files change, so a model
written while the server runs is served without a restart. At most ``capacity`` stay loaded:
the least recently used one is dropped first.

A model that cannot be used (a card that is not one finetune writes, a calibration that is not
finite, a model file that onnxruntime cannot load or that reads nothing sensible) is refused
with a 422 naming it, and logged once; if it replaced one that worked (a model copied over the
old one in place, still half-written), the one loaded before keeps serving until it is whole.
"""

import json
import logging
import math
import os
import pathlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

from .asks import LONGEST, SHORTEST
from .confidence import Calibration, SteadySignals, steady_evidence
from .digit_model import SIGHTINGS, DigitModel
from .exceptions import UnreadableInput
from .reasons import Reason
from .recogniser import session_options

MODEL_FILE_NAME, CARD_FILE_NAME = "digits.onnx", "card.json"
SITE_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")  # \Z: re.match (marshmallow's) anchors the start only
GENERAL = "general"  # no site model: the service's OCR_MODEL (also the samples folder of its answers)
LARGEST_MODEL_FILE, LARGEST_CARD_FILE = 64 * 1024 * 1024, 1024 * 1024  # finetune writes far less of each
CARD_FIGURES = ("trained", "images", "held_out", "seconds", "length")
# The kind of card finetune writes: 2, a calibration of ``SteadySignals``.
# A card of another version was calibrated on other signals: its confidences would mean nothing.
CARD_VERSION = 2
CLASSES = 11  # the digit model's per step: blank, then '0'..'9'

logger = logging.getLogger(__name__)


def check_site_model_name(name):
    """Refuse a name that is not a plain folder name (no path can be smuggled in), or the reserved one."""
    if not is_site_model_name(name):
        raise ValueError(
            f"a model name is 1-64 letters, digits, '_' or '-' "
            f"(not starting with '_' or '-', not {GENERAL!r}): {name!r}"
        )


def is_site_model_name(name):
    return bool(SITE_MODEL_NAME.fullmatch(name)) and name != GENERAL


@dataclass(frozen=True)
class SiteModel:
    """A loaded site model: ``Recogniser.read`` reads with it in our digit model's place."""

    name: str
    digit_model: DigitModel
    calibration: Calibration
    stamp: tuple = ()  # its files' identity when it was loaded (see ``_stamp``)
    length: int | None = None  # of the captchas it was fine-tuned on (``card_length``)


class UnusableModel(Exception):
    """What is wrong with a site model's files, in a sentence for the client and the log."""


class SiteModels:
    def __init__(self, directory, capacity, log_severity):
        self.directory, self.capacity = pathlib.Path(directory), capacity
        self._options = session_options(log_severity, 1)
        self._options.enable_cpu_mem_arena = False
        self._loaded = OrderedDict()  # name -> SiteModel, least recently used first
        self._unusable = {}  # name -> (stamp, problem) of the files that last failed to load
        self._lock = threading.Lock()

    def names(self):
        if not self.directory.is_dir():
            return []
        return sorted(
            folder.name
            for folder in self.directory.iterdir()
            if is_site_model_name(folder.name) and self._stamp(folder.name)
        )

    def listing(self):
        """Each model's name and its card's figures, or ``"usable": false`` and the problem: one bad card spoils no
        other."""
        listed = []
        for name in self.names():
            try:
                card = read_card(self.directory / name)
                card_calibration(card)
                listed.append(
                    {"name": name, **{field: value for field, value in card.items() if field in CARD_FIGURES}}
                )
            except UnusableModel as problem:
                listed.append({"name": name, "usable": False, "problem": str(problem)})
        return listed

    def get(self, name):
        """The loaded model ``name``; an unknown or unusable one is refused (UnreadableInput)."""
        stamp = self._stamp(name) if is_site_model_name(name) else None
        if not stamp:
            raise UnreadableInput(f"no site model {name!r} (GET /models lists them)", Reason.UNKNOWN_MODEL)
        with self._lock:
            model = self._loaded.get(name)
            if model is None or model.stamp != stamp:
                try:
                    model = self._load(name, stamp)
                except UnusableModel as problem:
                    if model is None:
                        raise UnreadableInput(
                            f"site model {name!r} cannot be used: {problem}", _reason(problem)
                        ) from None
                    # else: the one loaded before serves until its files are whole again
                else:
                    self._loaded[name] = model
            self._loaded.move_to_end(name)
            while len(self._loaded) > self.capacity:
                self._loaded.popitem(last=False)
        return model

    def trained_length(self, name):
        """How many digits the site model ``name`` was fine-tuned to read (``card_length``), or None: the general
        model, a name that is no model's, a card that cannot be read, or one written before cards said it."""
        stamp = self._stamp(name) if name is not None and is_site_model_name(name) else None
        if not stamp:
            return None
        with self._lock:
            model = self._loaded.get(name)
        if model is not None and model.stamp == stamp:
            return model.length
        try:  # not loaded yet, or changed since: its card alone says it (the read loads the model, in a read slot)
            return card_length(read_card(self.directory / name))
        except UnusableModel:
            return None

    def _stamp(self, name):
        """The identity of a model's two files (change, size, inode), or None if either is missing."""
        try:
            return tuple(
                (status.st_mtime_ns, status.st_size, status.st_ino)
                for status in (os.stat(self.directory / name / file) for file in (MODEL_FILE_NAME, CARD_FILE_NAME))
            )
        except OSError:
            return None

    def _load(self, name, stamp):
        """Load and try ``name``'s files; the same bad files fail once, logged once, and are not loaded again."""
        if name in self._unusable and self._unusable[name][0] == stamp:
            _, kind, problem = self._unusable[name]
            raise kind(problem)  # a new one: raising the same exception again would grow its traceback
        try:
            model = load_site_model(self.directory / name, name, self._options, stamp)
        except UnusableModel as problem:
            self._unusable[name] = (stamp, type(problem), str(problem))
            logger.warning("site model %r cannot be used: %s", name, problem)
            raise
        self._unusable.pop(name, None)
        return model


def read_card(folder):
    """A model's card, checked to be one finetune writes: a JSON object of finite numbers (UnusableModel if not)."""
    path = folder / CARD_FILE_NAME
    try:
        if path.stat().st_size > LARGEST_CARD_FILE:
            raise UnusableModel(f"its {CARD_FILE_NAME} is larger than {LARGEST_CARD_FILE} bytes")
        card = json.loads(path.read_bytes(), parse_constant=_no_constant)
    except (OSError, ValueError, RecursionError) as error:
        raise UnusableModel(f"its {CARD_FILE_NAME} cannot be read: {type(error).__name__}") from None
    if not isinstance(card, dict):
        raise UnusableModel(f"its {CARD_FILE_NAME} is not a JSON object")
    return card


def _no_constant(name):
    raise ValueError(f"{name} is no number")


def card_calibration(card):
    """The calibration a card holds: as many finite weights as ``SteadySignals`` and a finite bias."""
    calibration = card.get("calibration")
    weights = calibration.get("weights") if isinstance(calibration, dict) else None
    bias = calibration.get("bias") if isinstance(calibration, dict) else None
    numbers = [*weights, bias] if isinstance(weights, list) else []
    if not numbers or not all(_is_finite_number(number) for number in numbers):
        raise UnusableModel(f"its {CARD_FILE_NAME} holds no calibration (finite 'weights' and 'bias')")
    if card_version(card) < CARD_VERSION:
        raise OutdatedModel("it was fine-tuned by an older version: run finetune again")
    if card_version(card) > CARD_VERSION or len(weights) != SteadySignals.count():
        raise UnusableModel(
            f"its {CARD_FILE_NAME} is of card version {card_version(card)}; this service reads version {CARD_VERSION}"
        )
    return Calibration(tuple(float(weight) for weight in weights), float(bias))


def card_length(card):
    """The card's ``length``: the digits of every captcha the model was fine-tuned on (finetune writes it when they all
    have one length), or None (they had several, or the card was written before cards said it)."""
    length = card.get("length")
    return (
        length if isinstance(length, int) and not isinstance(length, bool) and SHORTEST <= length <= LONGEST else None
    )


def card_version(card):
    """The card's ``card_version``. Cards written before it was (1.4.0 and older) say it by their calibration's
    length: as many weights as ``SteadySignals`` were version 2, fewer version 1."""
    version = card.get("card_version")
    if version is None:
        return CARD_VERSION if len(card["calibration"]["weights"]) == SteadySignals.count() else 1
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


class OutdatedModel(UnusableModel):
    pass


def _reason(problem):
    return Reason.OUTDATED_MODEL if isinstance(problem, OutdatedModel) else Reason.UNUSABLE_MODEL


def _is_finite_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_site_model(folder, name, options, stamp=()):
    """Load a model folder and read a blank picture with it, so that a model which loads but reads nothing
    sensible (another net's file, a truncated one) is refused here, not by a 500 on a client's read."""
    card = read_card(folder)
    calibration = card_calibration(card)
    model_path = folder / MODEL_FILE_NAME
    try:
        if model_path.stat().st_size > LARGEST_MODEL_FILE:
            raise UnusableModel(f"its {MODEL_FILE_NAME} is larger than {LARGEST_MODEL_FILE} bytes")
        digit_model = DigitModel(options, path=model_path)
        sightings = digit_model.nudged_probabilities(Image.new("L", (160, 60), color=255), SIGHTINGS)
        if any(sighting.ndim != 2 or sighting.shape[1] != CLASSES for sighting in sightings):
            raise UnusableModel(
                f"its {MODEL_FILE_NAME} is not a digit model (its output is not {CLASSES} classes a step)"
            )
        steady_evidence(sightings, 4)
    except UnusableModel:
        raise
    except Exception as error:  # noqa: BLE001 - onnxruntime's errors have no common base but Exception
        raise UnusableModel(f"its {MODEL_FILE_NAME} cannot be read by onnxruntime ({type(error).__name__})") from None
    return SiteModel(name, digit_model, calibration, stamp, card_length(card))
