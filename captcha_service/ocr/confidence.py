"""Choose one reading from the models' probabilities, and say how likely it is right (no Flask).

Four kinds of evidence, one per way of reading (see ``recogniser``):
  ``digit_evidence``  our digit model alone
  ``steady_evidence`` a site model alone, over the picture as it is and nudged each way
  ``view_evidence``   ddddocr's models over three views of the picture
  ``joint_evidence``  both: each proposes readings, the one both find likeliest wins
Each gives the reading and its signals; a ``Calibration`` fitted by bench/calibrate.py turns
the signals into the probability that the reading is right.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from .decoding import best_readings, ctc_log_probability

FLOOR = 1e-12
TINY = 1e-300  # a step with no blank-or-digit mass at all has no alignment: only keeps log() finite
CANDIDATES_PER_MODEL = 3  # readings our model proposes; its fourth best is hardly ever right
# Our model always finds *some* reading of the asked length, if only a very improbable one on a
# blank picture: below this probability it is no proposal at all, so that a picture with no
# digits is "no reading", not a low-confidence guess.
PLAUSIBLE = 1e-3
CALIBRATION_L2 = 1e-2
# The joint reading's margin over its runner-up counts up to this (log units). Beyond it the runner-up is as
# good as impossible; uncapped, the readings whose runner-up is floored at FLOOR set the slope of the linear
# calibration, and it trusted a large margin more than the held-out families bore out (docs/accuracy.md).
MARGIN_CAP = 10.0
# How much ddddocr's views count against our model's in the joint reading: a weighted product
# of experts. At most 1 because ddddocr is the weaker reader of digits and its confident
# confusions (1s and 7s) overturned right readings of ours; bench/calibrate.py chooses it on
# readings of families the reading model never saw (docs/accuracy.md).
VIEW_WEIGHT = 0.9


class _Signals:
    """What speaks for one reading, in the order a ``Calibration``'s weights weigh it."""

    @classmethod
    def count(cls):
        """How many signals this kind gives: a calibration of another count was fitted on other signals, and
        would turn these into a meaningless confidence."""
        return len(fields(cls))

    def values(self):
        return tuple(getattr(self, field.name) for field in fields(self))


@dataclass(frozen=True)
class DigitSignals(_Signals):
    """``digit_evidence``'s: our model's log probability of the reading, and how much more probable (log) it is
    than the runner-up."""

    log_probability: float
    margin: float


@dataclass(frozen=True)
class SteadySignals(_Signals):
    """``steady_evidence``'s: those of ``DigitSignals`` for the mean of the sightings; the share of sightings whose
    own best reading it is; the lowest log probability a sighting gives it."""

    log_probability: float
    margin: float
    agreeing: float
    lowest: float


@dataclass(frozen=True)
class ViewSignals(_Signals):
    """``view_evidence``'s: log of the reading's mean probability over ddddocr's views, raw and renormalised over
    blank and digits; the share of views whose own best reading it is; how much more probable (log) it is than
    the runner-up."""

    log_probability: float
    renormalised: float
    agreeing_views: float
    margin: float


@dataclass(frozen=True)
class JointSignals(_Signals):
    """``joint_evidence``'s: our model's log probability of the reading; its mean over ddddocr's views, raw and
    renormalised; 1.0 if it is both our model's best and the views' best, else 0.0; the share of views whose own
    best reading it is; how much more the winner's product of experts is (log) than the runner-up's, up to
    ``MARGIN_CAP``."""

    our_log_probability: float
    view_log_probability: float
    renormalised: float
    both_best: float
    agreeing_views: float
    margin: float


@dataclass(frozen=True)
class Evidence:
    """The best reading and what speaks for it (one of the ``*Signals``)."""

    digits: str
    signals: _Signals


@dataclass(frozen=True)
class Calibration:
    """Logistic weights turning ``Evidence.signals`` into P(right); fitted by bench/calibrate.py."""

    weights: tuple
    bias: float

    def probability_right(self, values):
        """P(right) of a reading whose signals have these ``values`` (``Evidence.signals.values()``)."""
        score = self.bias + sum(weight * value for weight, value in zip(self.weights, values, strict=True))
        return 1.0 / (1.0 + math.exp(-min(max(score, -700.0), 700.0)))


def fit_calibration(signals, right, sample_weights=None):
    """The ``Calibration`` of a weighted logistic regression of ``right`` on ``signals``.

    Newton's method on standardised signals with a little L2 (it keeps the weights finite when
    the readings are all right, as a site model's can be), returned in raw units.
    """
    signals, right = np.asarray(signals, dtype=float), np.asarray(right, dtype=float)
    sample_weights = np.ones(len(right)) if sample_weights is None else np.asarray(sample_weights, dtype=float)
    mean, spread = signals.mean(axis=0), signals.std(axis=0) + 1e-9
    design = np.hstack([(signals - mean) / spread, np.ones((len(signals), 1))])
    coefficients = np.zeros(design.shape[1])
    # The bias is hardly penalised: only so that Newton's step stays defined when every reading is right.
    penalty = CALIBRATION_L2 * np.diag(np.r_[np.ones(design.shape[1] - 1), 1e-6])
    total = sample_weights.sum()
    for _ in range(100):
        predicted = 1.0 / (1.0 + np.exp(-design @ coefficients))
        gradient = design.T @ (sample_weights * (predicted - right)) / total + penalty @ coefficients
        hessian = (design.T * (sample_weights * predicted * (1 - predicted))) @ design / total + penalty
        coefficients -= np.linalg.solve(hessian, gradient)
    weights = coefficients[:-1] / spread
    return Calibration(tuple(float(weight) for weight in weights), float(coefficients[-1] - weights @ mean))


def digit_evidence(probabilities, length):
    """Our model's best reading of ``length`` digits, or ``None``.

    ``probabilities``: (time steps, 11), blank then '0'..'9'. Its signals: ``DigitSignals``.
    """
    log_probabilities = _log_probabilities(probabilities, best_readings(probabilities, length)[:CANDIDATES_PER_MODEL])
    if not log_probabilities or max(log_probabilities.values()) < math.log(PLAUSIBLE):
        return None
    best, *others = sorted(log_probabilities, key=log_probabilities.get, reverse=True)
    runner_up = log_probabilities[others[0]] if others else math.log(FLOOR)
    return Evidence(best, DigitSignals(log_probabilities[best], log_probabilities[best] - runner_up))


def steady_evidence(sightings, length):
    """A site model's best reading of ``length`` digits over several sightings of one picture, or ``None``.

    ``sightings``: its probabilities for the picture as it is and nudged each way
    (``digit_model.SIGHTINGS``). Fine-tuned on a hundred-odd images, a model can know an image
    by heart; a reading that holds however the picture falls on its pixels does not hang on a
    detail it learnt. The reading is the best of the mean probabilities. Its signals:
    ``SteadySignals`` (``agreeing`` is 1 if every sighting read it: ``is_steady``).
    """
    mean = digit_evidence(np.mean(sightings, axis=0), length)
    if mean is None:
        return None
    own = [digit_evidence(probabilities, length) for probabilities in sightings]
    agreeing = sum(evidence is not None and evidence.digits == mean.digits for evidence in own) / len(own)
    lowest = min(_log_probabilities(probabilities, [mean.digits])[mean.digits] for probabilities in sightings)
    return Evidence(mean.digits, SteadySignals(*mean.signals.values(), agreeing, lowest))


def is_steady(evidence):
    """Whether every sighting of a ``steady_evidence`` read the same digits."""
    return evidence.signals.agreeing == 1.0


def view_evidence(view_probabilities, length):
    """Evidence for the most probable reading of ``length`` digits over ddddocr's views, or ``None``.

    ``view_probabilities``: one (time steps, 11) array per view. Each view proposes its own
    best reading; the one with the highest mean probability wins. Its signals: ``ViewSignals``
    (renormalised: ignoring the mass ddddocr puts on letters).
    """
    own_readings = [own_reading(probabilities, length) for probabilities in view_probabilities]
    candidates = {reading for reading in own_readings if reading}
    if not candidates:
        return None
    per_view = {candidate: _view_log_probabilities(view_probabilities, candidate) for candidate in candidates}
    scores = {candidate: _log_mean_exp(logs) for candidate, logs in per_view.items()}
    best, *others = sorted(candidates, key=scores.get, reverse=True)
    runner_up = scores[others[0]] if others else math.log(FLOOR)
    signals = ViewSignals(
        scores[best],
        _renormalised(view_probabilities, per_view[best]),
        own_readings.count(best) / len(own_readings),
        scores[best] - runner_up,
    )
    return Evidence(best, signals)


def joint_evidence(digit_probabilities, view_probabilities, length, view_weight=VIEW_WEIGHT):
    """Evidence from our model and ddddocr's views together, or ``None``.

    Candidates: our model's few best readings and each view's own. Each is scored by the
    product of the two models' probabilities, the views' raised to ``view_weight`` (a product
    of experts: a reading must convince both). Its signals: ``JointSignals``.
    """
    ours = _log_probabilities(digit_probabilities, best_readings(digit_probabilities, length)[:CANDIDATES_PER_MODEL])
    ours = {reading: value for reading, value in ours.items() if value >= math.log(PLAUSIBLE)}
    own_readings = [own_reading(probabilities, length) for probabilities in view_probabilities]
    candidates = set(ours) | {reading for reading in own_readings if reading}
    if not candidates:
        return None
    our_logs = ours | _log_probabilities(digit_probabilities, candidates - set(ours))
    per_view = {candidate: _view_log_probabilities(view_probabilities, candidate) for candidate in candidates}
    view_logs = {candidate: _log_mean_exp(logs) for candidate, logs in per_view.items()}
    products = {candidate: our_logs[candidate] + view_weight * view_logs[candidate] for candidate in candidates}
    best, *others = sorted(candidates, key=products.get, reverse=True)
    runner_up = products[others[0]] if others else (1 + view_weight) * math.log(FLOOR)
    views_best = max(candidates, key=view_logs.get)
    ours_best = max(candidates, key=our_logs.get)
    signals = JointSignals(
        our_logs[best],
        view_logs[best],
        _renormalised(view_probabilities, per_view[best]),
        float(best == ours_best == views_best),
        own_readings.count(best) / len(own_readings),
        min(products[best] - runner_up, MARGIN_CAP),
    )
    return Evidence(best, signals)


def own_reading(probabilities, length):
    """One reader's own best reading of ``length`` digits from its probabilities (time steps, 11), or None."""
    readings = best_readings(probabilities, length)
    return readings[0] if readings else None


def _indices(digits):
    return [int(character) for character in digits]


def _log_probabilities(probabilities, readings):
    """{reading: log P(reading)} under one model, floored so that an impossible reading still compares."""
    return {
        reading: max(ctc_log_probability(probabilities, _indices(reading)), math.log(FLOOR)) for reading in readings
    }


def _view_log_probabilities(view_probabilities, digits):
    """log P(reading) under each view."""
    indices = _indices(digits)
    return [ctc_log_probability(probabilities, indices) for probabilities in view_probabilities]


def _log_mean_exp(log_probabilities):
    """log of the reading's probability averaged over the views."""
    return _log(float(np.mean([math.exp(value) for value in log_probabilities])))


def _renormalised(view_probabilities, log_probabilities):
    """As ``_log_mean_exp``, with every step of every view renormalised over blank and digits.

    Renormalising a step divides every alignment, and so the CTC probability, by the step's
    blank-and-digit mass: one sum of logs per view, no second pass of the forward algorithm.
    """
    masses = [float(np.log(np.maximum(probabilities.sum(axis=1), TINY)).sum()) for probabilities in view_probabilities]
    return _log_mean_exp([value - mass for value, mass in zip(log_probabilities, masses)])


def _log(value):
    return math.log(max(value, FLOOR))
