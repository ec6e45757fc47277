"""Turn the model's per-time-step scores into digits: CTC decoding restricted to blank + 0-9."""

import math

import numpy as np

CTC_BLANK = 0
DIGITS = "0123456789"
BEAM_WIDTH = 8
NEGLIGIBLE = 1e-4
RESCALE_BELOW = 1e-3  # a blank probability under which the beam is rescaled at once
RESCALE_EVERY = 32  # else every so many steps: 1e-3 ** 32 is still far from underflow


def softmax(logits, columns=slice(None)):
    """Probabilities of the ``columns`` classes (default all) over all classes, per time step, as float64.

    The model's logits stay far from float32's exp() range (|logit| < 60 on every captcha we
    have), so the usual shift by each row's maximum, a pass over 8,210 classes per step, is only
    paid when a row would overflow or vanish.
    """
    with np.errstate(over="ignore", under="ignore"):
        exponentials = np.exp(logits)
    totals = exponentials.sum(axis=1, keepdims=True)
    if not (np.isfinite(totals).all() and (totals > 0.0).all()):
        exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
        totals = exponentials.sum(axis=1, keepdims=True)
    # numpy sums float32 pairwise: a relative error near 1e-6, nothing that matters here.
    return exponentials[:, columns].astype(np.float64) / totals.astype(np.float64)


def digit_columns(charset):
    """Indices of blank, '0', ..., '9' in the model's charset (each digit appears once)."""
    return [CTC_BLANK] + [charset.index(digit) for digit in DIGITS]


def best_digits(probabilities, length):
    """Most probable string of exactly ``length`` digits under CTC, or ``None`` if there is none.

    ``probabilities`` has shape (time steps, 11): blank then '0'..'9', taken from the softmax
    over *all* the model's classes, so mass it gives to letters is not counted as digits.
    """
    readings = best_readings(probabilities, length)
    return readings[0] if readings else None


def best_readings(probabilities, length):
    """The strings of exactly ``length`` digits left in the beam at the end, most probable first (maybe none)."""
    return ["".join(DIGITS[digit] for digit in prefix) for prefix in _complete_prefixes(probabilities, length)]


def _complete_prefixes(probabilities, length):
    """Prefix beam search that never grows a prefix past ``length``.

    Each prefix carries the probability of its alignments ending in blank and in its last
    digit. One beam is kept per prefix length, so that likely short prefixes (all blank, say)
    cannot crowd out the full-length ones; a prefix that can no longer reach ``length`` in the
    steps left is dropped. Only the scores' ratios matter, so they are rescaled now and then.
    Most steps give no digit a chance: they change the scores of the prefixes, never the set.
    """
    beam = {(): (1.0, 0.0)}
    steps = len(probabilities)
    unscaled_steps = 0
    for step_index, row in enumerate(probabilities.tolist()):
        blank = row[0]
        likely_digits = [(digit, p_digit) for digit, p_digit in enumerate(row[1:]) if p_digit > NEGLIGIBLE]
        if not likely_digits:
            beam = {
                prefix: ((ends_blank + ends_digit) * blank, ends_digit * row[prefix[-1] + 1] if prefix else 0.0)
                for prefix, (ends_blank, ends_digit) in beam.items()
            }
            # Each such step keeps at least ``blank`` of the best score: rescale before it can underflow.
            unscaled_steps += 1
            if blank < RESCALE_BELOW or unscaled_steps == RESCALE_EVERY:
                beam, unscaled_steps = _rescale(beam), 0
            continue
        extended = {}
        for prefix, (ends_blank, ends_digit) in beam.items():
            total = ends_blank + ends_digit
            stay_blank, stay_digit = extended.get(prefix, (0.0, 0.0))
            extended[prefix] = (
                stay_blank + total * blank,
                stay_digit + (ends_digit * row[prefix[-1] + 1] if prefix else 0.0),
            )
            if len(prefix) == length:
                continue
            for digit, p_digit in likely_digits:
                reachable = ends_blank if prefix and prefix[-1] == digit else total
                grown = prefix + (digit,)
                grown_blank, grown_digit = extended.get(grown, (0.0, 0.0))
                extended[grown] = (grown_blank, grown_digit + reachable * p_digit)
        beam, unscaled_steps = _prune(extended, length, steps_left=steps - step_index - 1), 0
        if not beam:
            return []
    complete = [(sum(scores), prefix) for prefix, scores in beam.items() if len(prefix) == length]
    return [prefix for _, prefix in sorted(complete, reverse=True)]


def _prune(extended, length, steps_left):
    by_length = {}
    for prefix, scores in extended.items():
        total = scores[0] + scores[1]
        if length - len(prefix) <= steps_left and total > 0.0:
            by_length.setdefault(len(prefix), []).append((total, prefix, scores))
    kept = [
        entry
        for group in by_length.values()
        for entry in (sorted(group, reverse=True)[:BEAM_WIDTH] if len(group) > BEAM_WIDTH else group)
    ]
    return _rescale({prefix: scores for _, prefix, scores in kept})


def _rescale(beam):
    top = max((ends_blank + ends_digit for ends_blank, ends_digit in beam.values()), default=0.0)
    if top == 0.0:
        return {}
    return {prefix: (ends_blank / top, ends_digit / top) for prefix, (ends_blank, ends_digit) in beam.items()}


def ctc_log_probability(probabilities, digits):
    """log P(``digits`` | image) under CTC, by the forward algorithm; -inf if no alignment is possible.

    The states are blank, d1, blank, d2, ..., blank: a handful, so plain floats beat numpy here.
    """
    labels = [CTC_BLANK]
    for digit in digits:
        labels += [digit + 1, CTC_BLANK]
    # A digit may also be reached from two states back, over a blank, unless it repeats the one before.
    skips = [
        index >= 2 and labels[index] != CTC_BLANK and labels[index] != labels[index - 2] for index in range(len(labels))
    ]
    rows = probabilities.tolist()
    alpha = [0.0] * len(labels)
    alpha[0], alpha[1] = rows[0][labels[0]], rows[0][labels[1]]
    log_scale = 0.0
    for row in rows[1:]:
        previous = alpha
        alpha = [
            (previous[index] + (previous[index - 1] if index else 0.0) + (previous[index - 2] if skips[index] else 0.0))
            * row[label]
            for index, label in enumerate(labels)
        ]
        total = sum(alpha)
        if total == 0.0:
            return -math.inf
        alpha = [value / total for value in alpha]
        log_scale += math.log(total)
    end = alpha[-1] + alpha[-2]
    return log_scale + math.log(end) if end > 0.0 else -math.inf


def best_path_log_probabilities(probabilities, length):
    """For each of a batch of probabilities (N, time steps, 11): log P of its likeliest alignment that reads exactly
    ``length`` digits (-inf where none can). The likeliest alignment, not the likeliest string: it needs no
    beam search, so it scores many pictures at the cost of one reading.

    By dynamic programming over the steps, with for each count of digits read so far the best log
    probability of ending in blank and of ending in each digit.
    """
    logs = np.log(np.maximum(probabilities, 1e-300))
    count, steps, _ = logs.shape
    best = np.full((count, length + 1, 11), -np.inf)  # [:, k, 0] k digits read, in blank; [:, k, 1 + d] in digit d
    best[:, 0, 0] = logs[:, 0, CTC_BLANK]
    if length:
        best[:, 1, 1:] = logs[:, 0, 1:]
    same_digit = np.eye(10, dtype=bool)
    for step in range(1, steps):
        row = logs[:, step]
        grown = np.full_like(best, -np.inf)
        grown[:, :, 0] = np.maximum(best[:, :, 0], best[:, :, 1:].max(axis=2)) + row[:, np.newaxis, CTC_BLANK]
        before = best[:, :-1]  # one digit fewer
        # a new digit d comes after a blank, or right after another digit (the same one would only continue)
        after_digit = np.where(same_digit, -np.inf, before[:, :, np.newaxis, 1:]).max(axis=3)
        entered = np.maximum(before[:, :, :1], after_digit)
        grown[:, 1:, 1:] = np.maximum(best[:, 1:, 1:], entered) + row[:, np.newaxis, 1:]
        best = grown
    return best[:, length].max(axis=1)
