"""Choose one reading among the model's views of a captcha, and say how likely it is right."""

import math
from dataclasses import dataclass

import numpy as np

from .decoding import best_digits, ctc_log_probability

FLOOR = 1e-12
TINY = 1e-300  # a step with no blank-or-digit mass at all has no alignment: only keeps log() finite


@dataclass(frozen=True)
class Evidence:
    """The best reading of a set of views, and what speaks for it.

    ``signals``: log of its mean probability over the views; the same with the probabilities
    renormalised over blank and digits (ignoring mass on letters); the share of views whose
    own best reading it is; log of how much more probable it is than the runner-up.
    """

    digits: str
    signals: tuple


@dataclass(frozen=True)
class Calibration:
    """Logistic weights turning ``Evidence.signals`` into P(right); fitted by bench/calibrate.py."""

    weights: tuple
    bias: float

    def probability_right(self, signals):
        score = self.bias + sum(weight * signal for weight, signal in zip(self.weights, signals))
        return 1.0 / (1.0 + math.exp(-score))


def weigh_views(view_probabilities, length):
    """Evidence for the most probable reading of ``length`` digits over all views, or ``None``.

    ``view_probabilities``: one (time steps, 11) array per view, blank then '0'..'9'. Each
    view proposes its own best reading; the one with the highest mean probability wins.
    """
    own_readings = [best_digits(probabilities, length) for probabilities in view_probabilities]
    candidates = {reading for reading in own_readings if reading}
    if not candidates:
        return None
    log_by_view = {candidate: _log_view_probabilities(view_probabilities, candidate) for candidate in candidates}
    scores = {candidate: float(np.mean(np.exp(log_by_view[candidate]))) for candidate in candidates}
    best, *others = sorted(candidates, key=scores.get, reverse=True)
    runner_up = scores[others[0]] if others else 0.0
    # Renormalising every time step over blank and digits divides every alignment, and so the
    # CTC probability, by the product of the steps' blank-and-digit mass.
    log_digit_mass = np.array([np.log(np.maximum(probabilities.sum(axis=1), TINY)).sum() for probabilities in view_probabilities])
    renormalised = float(np.mean(np.exp(np.array(log_by_view[best]) - log_digit_mass)))
    signals = (
        _log(scores[best]),
        _log(renormalised),
        own_readings.count(best) / len(own_readings),
        _log(scores[best]) - _log(runner_up),
    )
    return Evidence(best, signals)


def _log_view_probabilities(view_probabilities, digits):
    indices = [int(character) for character in digits]
    return [ctc_log_probability(probabilities, indices) for probabilities in view_probabilities]


def _log(value):
    return math.log(max(value, FLOOR))
