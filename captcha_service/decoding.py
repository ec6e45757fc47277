"""Turn the model's per-time-step scores into digits: CTC decoding restricted to blank + 0-9."""

from dataclasses import dataclass

import numpy as np

CTC_BLANK = 0
DIGITS = "0123456789"
BEAM_WIDTH = 8
NEGLIGIBLE = 1e-7


@dataclass(frozen=True)
class Decoded:
    """A digit string of the requested length, and the model's probability of exactly it."""

    digits: str
    probability: float


def softmax(logits):
    """Probabilities over all the model's classes, per time step (rows of ``logits``)."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def digit_columns(charset):
    """Indices of blank, '0', ..., '9' in the model's charset (each digit appears once)."""
    return [CTC_BLANK] + [charset.index(digit) for digit in DIGITS]


def decode_digits(probabilities, length):
    """Most probable string of exactly ``length`` digits under CTC, or ``None`` if there is none.

    ``probabilities`` has shape (time steps, 11): blank then '0'..'9', taken from the softmax
    over *all* the model's classes, so mass it gives to letters is not counted as digits.
    """
    prefix = _best_prefix(probabilities, length)
    if prefix is None:
        return None
    return Decoded("".join(DIGITS[digit] for digit in prefix), ctc_probability(probabilities, prefix))


def _best_prefix(probabilities, length):
    """Prefix beam search that never grows a prefix past ``length``.

    Each prefix carries the probability of its alignments ending in blank and in its last
    digit. One beam is kept per prefix length, so that likely short prefixes (all blank, say)
    cannot crowd out the full-length ones; a prefix that can no longer reach ``length`` in the
    steps left is dropped. Scores are rescaled every step: only their ratios matter here.
    """
    beam = {(): (1.0, 0.0)}
    steps = len(probabilities)
    for step_index, step in enumerate(probabilities):
        blank = float(step[0])
        likely_digits = [(digit, float(step[digit + 1])) for digit in range(10) if step[digit + 1] > NEGLIGIBLE]
        extended = {}
        for prefix, (ends_blank, ends_digit) in beam.items():
            total = ends_blank + ends_digit
            stay_blank, stay_digit = extended.get(prefix, (0.0, 0.0))
            stay_blank += total * blank
            if prefix:
                stay_digit += ends_digit * float(step[prefix[-1] + 1])
            extended[prefix] = (stay_blank, stay_digit)
            if len(prefix) == length:
                continue
            for digit, p_digit in likely_digits:
                reachable = ends_blank if prefix and prefix[-1] == digit else total
                grown = prefix + (digit,)
                grown_blank, grown_digit = extended.get(grown, (0.0, 0.0))
                extended[grown] = (grown_blank, grown_digit + reachable * p_digit)
        beam = _prune(extended, length, steps_left=steps - step_index - 1)
        if not beam:
            return None
    complete = [(sum(scores), prefix) for prefix, scores in beam.items() if len(prefix) == length]
    return max(complete)[1] if complete else None


def _prune(extended, length, steps_left):
    by_length = {}
    for prefix, scores in extended.items():
        if length - len(prefix) <= steps_left and sum(scores) > 0.0:
            by_length.setdefault(len(prefix), []).append((sum(scores), prefix, scores))
    kept = [entry for group in by_length.values() for entry in sorted(group, reverse=True)[:BEAM_WIDTH]]
    if not kept:
        return {}
    top = max(total for total, _, _ in kept)
    return {prefix: (ends_blank / top, ends_digit / top) for _, prefix, (ends_blank, ends_digit) in kept}


def ctc_probability(probabilities, digits):
    """P(``digits`` | image) under CTC: the sum over every alignment, by the forward algorithm."""
    labels = [CTC_BLANK]
    for digit in digits:
        labels += [digit + 1, CTC_BLANK]
    labels = np.array(labels)
    emissions = probabilities[:, labels]
    # A label may also be reached from two states back when it is a digit unlike the one before.
    skip = np.zeros(len(labels), dtype=bool)
    skip[3::2] = labels[3::2] != labels[1:-2:2]
    alpha = np.zeros(len(labels))
    alpha[:2] = emissions[0, :2]
    log_scale = 0.0
    for emission in emissions[1:]:
        previous = alpha
        alpha = previous.copy()
        alpha[1:] += previous[:-1]
        alpha[2:] += np.where(skip[2:], previous[:-2], 0.0)
        alpha *= emission
        total = alpha.sum()
        if total == 0.0:
            return 0.0
        alpha /= total
        log_scale += np.log(total)
    return float(np.exp(log_scale) * alpha[-2:].sum())
