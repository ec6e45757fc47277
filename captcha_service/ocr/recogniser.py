"""The models of one OCR_MODEL choice: a grey picture in, a reading and its confidence out (no Flask).

    digits          our digit model alone (three sightings in one run of a couple of milliseconds)
    common, ...     ddddocr's models over three views (see ``ddddocr_model``)
    digits+common   the default: a cascade. Our model reads first; very sure (calibrated
                    confidence at least ``SURE_ALONE``, a calibration fitted on families it never
                    saw) that is the answer. Else ddddocr reads the first view; if our model is
                    sure enough (``SURE_CONFIRMED``) and ddddocr's own best reading is the same,
                    that is the answer: on a family it never saw our model can be sure and wrong,
                    so a less than very sure reading never stands alone. Else
                    both together decide (``joint_evidence``) if that makes them sure
                    (``SURE_FIRST_VIEW``); else ddddocr's two other views read too, and all of it
                    decides. Each stage has its own calibration.
    digits+common_old   the same cascade with ddddocr's smaller model
On a large canvas our model does not read surely whole, every way of reading with our model reads
the window of it where our model reads best, if one reads much better (``Recogniser.prepared``).
A site model (``captcha-ocr finetune``) reads in our model's place, more warily, and the picture
whole, as it was fine-tuned (``Recogniser._read_with_site_model``).
"""

import functools
import json
import pathlib
from dataclasses import dataclass, replace
from typing import NamedTuple

import onnxruntime
from PIL import Image

from .confidence import (
    VIEW_WEIGHT,
    Calibration,
    DigitSignals,
    JointSignals,
    ViewSignals,
    digit_evidence,
    is_steady,
    joint_evidence,
    own_reading,
    steady_evidence,
    view_evidence,
)
from .ddddocr_model import ONNX_MODELS, DdddocrModels
from .digit_model import MODEL_FILE, SIGHTINGS, DigitModel, reading_probabilities
from .exceptions import UnreadableInput
from .locating import is_tall, locate_digits
from .reasons import Reason
from .rendering import STRETCHES, trim_margins

DIGIT_MODEL = "digits"

# The calibration of each way of reading: each OCR_MODEL choice, and each cascade's middle stage,
# fitted by `python -m bench.calibrate --write` on labelled captchas (its file says on which).
CALIBRATIONS_FILE = pathlib.Path(__file__).resolve().parent / "models" / "calibrations.json"
OCR_MODELS = ("digits", "digits+common", "digits+common_old", "common", "common_old", "common+common_old")
# How sure our model must be to answer without ddddocr (SURE_ALONE), or with ddddocr's first view
# reading the same digits (SURE_CONFIRMED), and how sure both must be after ddddocr's first view to
# answer without its other two views (SURE_FIRST_VIEW): chosen with bench/calibrate.py's sweeps over
# readings of families the reading model never saw (docs/accuracy.md). SURE_ALONE only saves
# time: the lowest value at which stopping there costs nothing, neither right answers nor more
# wrong ones, against never stopping there. SURE_CONFIRMED: the lowest at which the cascade is as
# right as reading every captcha with both models and at most 0.3 points more often wrong.
# SURE_FIRST_VIEW: of the values bench/calibrate.py sweeps (0.9 up), the one of least cost in
# bench.accuracy (a wrong answer as ten refusals, as for MIN_CONFIDENCE) with no family left out
# wrong on more than 2%: on families our model never saw, the joint reading of ddddocr's first
# view answers more than that of all three views, for few more wrong answers, and sooner. They
# do not move with the confidence a request asks for, so that one picture always gets one
# confidence: the request's threshold only decides whether that is answered.
SURE_ALONE = 0.98
SURE_CONFIRMED = 0.9
SURE_FIRST_VIEW = 0.9


@dataclass(frozen=True)
class DecidedBy:
    """The way of reading whose calibration gave a reading's confidence."""

    reader: str  # an OCR_MODEL choice, or a site model's name
    with_ddddocr: bool = False  # a site model's reading jointly with ddddocr's views
    first_view_only: bool = False  # a cascade's middle stage: ddddocr's first view only

    @property
    def name(self):
        """As logs, metrics and calibrations.json name it: ``digits``, ``digits+common:view1``, ``shop+ddddocr``."""
        return self.reader + ("+ddddocr" if self.with_ddddocr else "") + (":view1" if self.first_view_only else "")


DIGIT_MODEL_ALONE = DecidedBy(DIGIT_MODEL)


class Prepared(NamedTuple):
    """A picture as the general models read it, and our model's probabilities of it (``Recogniser.prepared``)."""

    picture: Image.Image
    digit_probabilities: object  # (time steps, 11) array, or None without our model


@dataclass(frozen=True)
class Reading:
    """What was read from one captcha. ``digits`` keeps leading zeros; ``number`` does not."""

    digits: str
    confidence: float
    decided_by: DecidedBy
    # Whether our model and ddddocr, each reading on its own, found these digits: ``None`` where
    # only one of them read. Two independent readers that disagree are the mark of a captcha
    # family neither reads well (a refusal's reason says so: ``unfamiliar``).
    readers_agree: bool | None = None

    @property
    def number(self):
        return int(self.digits)


def check_model_name(model_name):
    """Refuse an OCR_MODEL that is not one of the choices, naming them."""
    if model_name not in OCR_MODELS:
        raise ValueError(f"unknown OCR model {model_name!r}; choose one of {sorted(OCR_MODELS)}")


def calibration_signals(model_name):
    """{name: the kind of signals it weighs} of the calibrations one OCR_MODEL choice reads with: its own, and for a
    cascade its stages'."""
    if is_cascade(model_name):
        first_view = DecidedBy(model_name, first_view_only=True).name
        return {DIGIT_MODEL: DigitSignals, first_view: JointSignals, model_name: JointSignals}
    return {model_name: DigitSignals if model_name == DIGIT_MODEL else ViewSignals}


def is_cascade(model_name):
    """Whether an OCR_MODEL choice reads with our digit model and ddddocr's."""
    return DIGIT_MODEL in model_name.split("+") and "+" in model_name


def load_calibrations(path=CALIBRATIONS_FILE):
    """{name: Calibration} of a calibrations file, every choice's stages there with as many weights as their signals,
    or a ValueError naming what is missing or fitted on other signals."""
    fitted = json.loads(pathlib.Path(path).read_text())["calibrations"]
    needed = {name: signals for model_name in OCR_MODELS for name, signals in calibration_signals(model_name).items()}
    missing = sorted(needed.keys() - fitted.keys())
    if missing:
        raise ValueError(f"{path} has no calibration of {missing}: refit with python -m bench.calibrate --write")
    other_signals = sorted(name for name, signals in needed.items() if len(fitted[name]["weights"]) != signals.count())
    if other_signals:
        raise ValueError(
            f"{path} fitted {other_signals} on other signals than they give: "
            "refit with python -m bench.calibrate --write"
        )
    return {name: Calibration(tuple(found["weights"]), found["bias"]) for name, found in fitted.items()}


def session_options(log_severity, threads):
    options = onnxruntime.SessionOptions()
    options.log_severity_level = log_severity
    options.intra_op_num_threads = threads
    # Inputs vary in width; a memory pattern per width seen would only grow (bench/load.py).
    # onnxruntime's arena stays on: without it a read's tensors fragment malloc's heap and the
    # RSS under load rises more than the arena costs.
    options.enable_mem_pattern = False
    # Its idle intra-op threads sleep instead of spinning: with reads in parallel, spinning threads
    # took the cores other reads needed (bench/load.py: more reads/s at once, a lone read as fast).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _calibrated(evidence, calibration, decided_by, length, both_read=False):
    """The reading of ``evidence`` with its calibrated confidence; ``both_read``: ``joint_evidence`` of our model
    and ddddocr, each of which found a reading of its own (so whether they agree is known)."""
    if evidence is None:
        raise UnreadableInput(f"no reading of {length} digits in the image", Reason.NO_READING)
    agree = bool(evidence.signals.both_best) if both_read else None
    confidence = calibration.probability_right(evidence.signals.values())
    return Reading(evidence.digits, round(confidence, 4), decided_by, agree)


def _sure(evidence, calibration, decided_by, sure):
    """The reading of our model (or a site model) alone if its confidence is at least ``sure``; else ``None``."""
    if evidence is None:
        return None
    confidence = calibration.probability_right(evidence.signals.values())
    return Reading(evidence.digits, round(confidence, 4), decided_by) if confidence >= sure else None


def first_view_reads(first_view, digits, length):
    """Whether each of ddddocr's models, reading the first view on its own, finds these digits: what lets our
    model's sure reading stand without the joint one."""
    return all(own_reading(probabilities, length) == digits for probabilities in first_view)


def agreed(site_reading, general_reading):
    """One reading of two calibrated ones of the same picture: the surer, and if they differ no surer
    than the other is unsure (they cannot both be right)."""
    surer, other = sorted((site_reading, general_reading), key=lambda reading: reading.confidence, reverse=True)
    if surer.digits == other.digits:
        return surer
    return Reading(surer.digits, round(min(surer.confidence, 1.0 - other.confidence), 4), surer.decided_by, False)


class _Views:
    """ddddocr's probabilities over the views of one picture: the first view at once, the others when first asked."""

    def __init__(self, ddddocr, picture):
        self._ddddocr, self._picture = ddddocr, picture
        self.first = ddddocr.view_probabilities(picture, STRETCHES[:1])

    @functools.cached_property
    def every(self):
        return self.first + self._ddddocr.view_probabilities(self._picture, STRETCHES[1:])


class Recogniser:
    """The loaded models of one OCR_MODEL choice. Immutable after construction: threads share it.

    ``ddddocr_threads``: onnxruntime threads per run of ddddocr's models (0: onnxruntime's
    choice). Our model runs on one: it is too small to gain from more. ``digit_model_file`` and
    ``calibrations`` (what ``load_calibrations`` gives) are the shipped ones unless named: the
    benchmarks read with models that never saw a family, calibrated without it.
    """

    def __init__(self, model_name, log_severity, ddddocr_threads=0, digit_model_file=MODEL_FILE, calibrations=None):
        check_model_name(model_name)
        names = model_name.split("+")
        self.model_name = model_name
        digit_options = session_options(log_severity, 1)
        digit_options.enable_cpu_mem_arena = False  # its tensors are a few kB: an arena would only hold memory
        self.digit_model = DigitModel(digit_options, digit_model_file) if DIGIT_MODEL in names else None
        ddddocr_names = [name for name in names if name in ONNX_MODELS]
        self.ddddocr = (
            DdddocrModels(ddddocr_names, session_options(log_severity, ddddocr_threads)) if ddddocr_names else None
        )
        self.calibrations = load_calibrations() if calibrations is None else calibrations
        self.calibration = self.calibrations[model_name]
        # What each read names and weighs, worked out once: reads share them.
        self.cascade = is_cascade(model_name)
        self.decided_by = DecidedBy(model_name)
        self.first_view = replace(self.decided_by, first_view_only=True)
        self.first_view_calibration = self.calibrations[self.first_view.name] if self.cascade else None

    def read(self, picture, length, site_model=None):
        """Read exactly ``length`` digits from a grey picture, with the probability they are right; given a range of
        lengths (a solver protocol's minLength..maxLength), as many of them as the picture reads likeliest.

        ``site_model``: a fine-tuned ``SiteModel`` to read with (see ``_read_with_site_model``).
        The caller decides whether the confidence is enough: it does not depend on what is asked.
        """
        picture, whole = trim_margins(picture), None
        if isinstance(length, range):
            length, whole = self._likeliest_length(picture, length)
        if site_model is not None:
            return self._read_with_site_model(picture, length, site_model)
        picture, digit_probabilities = self._prepared(picture, length, whole)
        if not self.cascade:
            probabilities = self.probabilities(picture, digit_probabilities)
            (evidence,) = self.evidence_by_choice(probabilities, [length])[length].values()
            return _calibrated(evidence, self.calibration, self.decided_by, length)
        alone = digit_evidence(digit_probabilities, length)
        sure = _sure(alone, self.calibrations[DIGIT_MODEL], DIGIT_MODEL_ALONE, SURE_CONFIRMED)
        if sure is not None and sure.confidence >= SURE_ALONE:
            return sure
        views = _Views(self.ddddocr, picture)
        if sure is not None and first_view_reads(views.first, sure.digits, length):
            return replace(sure, readers_agree=True)
        both_read = alone is not None and any(own_reading(probabilities, length) for probabilities in views.first)
        return self._read_jointly(digit_probabilities, views, length, self.decided_by, both_read)

    def _likeliest_length(self, trimmed, lengths):
        """(the one of ``lengths`` whose best reading is likeliest, our model's probabilities of the picture, which the
        read goes on with): by our model, or by ddddocr's first view where this choice has no model of ours (and
        the probabilities are None); the first of the lengths if none has a reading."""
        if self.digit_model is not None:
            whole = probabilities = self.digit_model.probabilities(trimmed)
            evidence_of = digit_evidence
        else:
            whole, probabilities = None, self.ddddocr.view_probabilities(trimmed, STRETCHES[:1])
            evidence_of = view_evidence
        likelihoods = {
            length: evidence.signals.log_probability
            for length in lengths
            if (evidence := evidence_of(probabilities, length)) is not None
        }
        return max(likelihoods, key=likelihoods.get, default=lengths[0]), whole

    def prepared(self, picture, length):
        """A decoded grey picture as the general models read it for ``length`` digits, and our model's probabilities
        of it (``None`` without our model): trimmed, and on a large canvas that our model does not read surely
        whole, the window of it where it reads best (``locating``). A picture read surely whole is read whole: a
        window could only lose its reading. Our model reads each picture once, here."""
        return self._prepared(trim_margins(picture), length)

    def _prepared(self, picture, length, whole=None):
        """``prepared`` of a picture already trimmed, whose probabilities by our model (``whole``) may be known: a
        read of a range of lengths has them from choosing its length, and does not run our model again."""
        if self.digit_model is None:
            return Prepared(picture, None)
        if whole is None:
            whole = self.digit_model.probabilities(picture)
        if not is_tall(picture):
            return Prepared(picture, whole)
        evidence = digit_evidence(whole, length)
        if _sure(evidence, self.calibrations[DIGIT_MODEL], DIGIT_MODEL_ALONE, SURE_CONFIRMED) is not None:
            return Prepared(picture, whole)
        located = locate_digits(self.digit_model, picture, length)
        return Prepared(located, whole if located is picture else self.digit_model.probabilities(located))

    def _read_with_site_model(self, picture, length, site_model):
        """The cascade with a site model: fine-tuned on a few hundred captchas, it can be sure and wrong.

        It reads the picture as it is and nudged each way, in one batched run (``SIGHTINGS``,
        ``steady_evidence``), and answers alone when its own calibration is sure and every
        sighting read the same. Else it reads jointly with ddddocr's views, and so does the
        general model, as for a request naming no model: where the two joint readings agree,
        the surer confidence is the answer's; where they differ, at most one is right, so the
        surer one's confidence is at most one minus the other's. Where OCR_MODEL is no
        cascade, the site model reads alone.
        """
        sightings = site_model.digit_model.nudged_probabilities(picture, SIGHTINGS)
        alone = steady_evidence(sightings, length)
        if not self.cascade:
            return _calibrated(alone, site_model.calibration, DecidedBy(site_model.name), length)
        sure = _sure(alone, site_model.calibration, DecidedBy(site_model.name), SURE_CONFIRMED)  # steadiness confirms
        if sure is not None and is_steady(alone):
            return sure
        views = _Views(self.ddddocr, picture)
        return agreed(
            # read as the general model reads, which the joint calibrations were fitted on
            self._read_jointly(
                reading_probabilities(sightings), views, length, DecidedBy(site_model.name, with_ddddocr=True)
            ),
            self._read_jointly(self.digit_model.probabilities(picture), views, length, self.decided_by),
        )

    def _read_jointly(self, digit_probabilities, views, length, decided_by, both_read=True):
        """The cascade's stages with ddddocr: its first view, and all three if that does not make both models sure.

        ``decided_by``: the reader's, for all three views. ``both_read``: whether our model and ddddocr's first
        view each found a reading of their own; if either read nothing (a blank picture), the readers did not
        disagree.
        """
        evidence = joint_evidence(digit_probabilities, views.first, length)
        if evidence is not None:
            first = _calibrated(
                evidence, self.first_view_calibration, replace(decided_by, first_view_only=True), length, both_read
            )
            if first.confidence >= SURE_FIRST_VIEW:
                return first
        return _calibrated(
            joint_evidence(digit_probabilities, views.every, length), self.calibration, decided_by, length, both_read
        )

    def probabilities(self, trimmed, digit_probabilities=None):
        """(our model's probabilities, ddddocr's over every view) of a trimmed picture, each model run
        once (ours not at all if its ``digit_probabilities`` are given); ``None`` for a model this choice
        does not have."""
        if digit_probabilities is None and self.digit_model is not None:
            digit_probabilities = self.digit_model.probabilities(trimmed)
        view_probabilities = None if self.ddddocr is None else self.ddddocr.view_probabilities(trimmed, STRETCHES)
        return digit_probabilities, view_probabilities

    def evidence_by_choice(self, probabilities, lengths, view_weight=VIEW_WEIGHT):
        """{asked length: {way of reading: its evidence, before calibration}} for every way this choice reads.

        ``probabilities``: what ``probabilities`` gave. One choice, or for the cascade each of its
        stages ("digits" alone, the joint reading of ddddocr's first view, the joint reading of all
        views). ``bench/calibrate.py`` fits the calibrations on these, and chooses VIEW_WEIGHT.
        """
        digit_probabilities, view_probabilities = probabilities
        if view_probabilities is None:
            return {length: {DIGIT_MODEL: digit_evidence(digit_probabilities, length)} for length in lengths}
        if digit_probabilities is None:
            return {length: {self.model_name: view_evidence(view_probabilities, length)} for length in lengths}
        first_view = view_probabilities[: self.ddddocr.runs_per_view]
        return {
            length: {
                DIGIT_MODEL: digit_evidence(digit_probabilities, length),
                self.first_view.name: joint_evidence(digit_probabilities, first_view, length, view_weight),
                self.model_name: joint_evidence(digit_probabilities, view_probabilities, length, view_weight),
            }
            for length in lengths
        }

    def warm_up(self):
        """One read of a blank picture, so the first request does not pay onnxruntime's set-up."""
        self.evidence_by_choice(self.probabilities(Image.new("L", (160, 60), color=255)), [4])
