import itertools
import math

import numpy as np
import pytest

from captcha_service.ocr.confidence import VIEW_WEIGHT, joint_evidence
from captcha_service.ocr.decoding import (
    best_digits,
    best_path_log_probabilities,
    ctc_log_probability,
    digit_columns,
    softmax,
)

BLANK = 0


def steps(*classes, sure=0.97):
    """Probabilities (time steps, 11): each step puts ``sure`` on its class ('-' = blank, or a digit)."""
    probabilities = np.full((len(classes), 11), (1 - sure) / 10)
    for step, name in enumerate(classes):
        probabilities[step, BLANK if name == "-" else int(name) + 1] = sure
    return probabilities


def probability_of(probabilities, digits):
    return math.exp(ctc_log_probability(probabilities, [int(digit) for digit in digits]))


def collapsed(path):
    """The labels a CTC alignment reads: repeats merged, blanks dropped."""
    return [label for index, label in enumerate(path) if label != BLANK and (index == 0 or path[index - 1] != label)]


def brute_force_best(probabilities, length):
    """The exact most probable digit string of ``length``, summing every alignment."""
    totals = {}
    for path in itertools.product(range(11), repeat=len(probabilities)):
        read = collapsed(path)
        if len(read) == length:
            key = "".join(str(label - 1) for label in read)
            totals[key] = totals.get(key, 0.0) + math.prod(probabilities[t, c] for t, c in enumerate(path))
    return max(totals.items(), key=lambda item: item[1])


def test_reads_the_digits_between_blanks():
    assert best_digits(steps("-", "3", "3", "-", "7", "-", "0", "0", "1", "-"), 4) == "3701"


def test_repeated_digits_need_a_blank_between_them():
    assert best_digits(steps("1", "-", "1", "0", "0", "-", "0", "-"), 4) == "1100"
    assert best_digits(steps("1", "1", "-", "0", "-", "0", "-", "0"), 4) == "1000"


def test_leading_zeros_are_kept():
    assert best_digits(steps("0", "-", "0", "7", "-", "1", "-"), 4) == "0071"


def test_finds_the_best_reading_of_exactly_the_requested_length():
    # Greedy decoding reads "371" here; the length-4 reading keeps the likeliest fourth digit.
    probabilities = steps("3", "-", "7", "-", "-", "1", "-")
    probabilities[4] = [0.55, 0, 0, 0, 0, 0, 0, 0, 0, 0.4, 0.05]
    assert best_digits(probabilities, 3) == "371"
    assert best_digits(probabilities, 4) == "3781"


def test_no_reading_when_there_are_too_few_steps():
    assert best_digits(steps("1", "2", "3"), 4) is None


def test_repeats_without_blanks_cannot_spell_three_ones():
    digits = best_digits(steps("1", "1", "1"), 3)
    assert digits != "111"
    assert probability_of(steps("1", "1", "1"), digits) < 0.01


@pytest.mark.parametrize("seed", range(5))
def test_probability_is_the_exact_ctc_sum(seed):
    probabilities = np.random.default_rng(seed).dirichlet(np.full(11, 0.1), size=6)
    digits, exact = brute_force_best(probabilities, 3)
    assert best_digits(probabilities, 3) == digits
    assert probability_of(probabilities, digits) == pytest.approx(exact, rel=1e-9)


def test_probability_counts_mass_on_letters_against_the_reading():
    sure = steps("4", "-", "2", "-")
    unsure = sure * 0.5  # the other half went to letters the model also saw
    assert best_digits(sure, 2) == best_digits(unsure, 2) == "42"
    assert probability_of(sure, "42") > 0.85
    assert probability_of(unsure, "42") == pytest.approx(probability_of(sure, "42") / 16, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_the_best_path_score_is_the_likeliest_single_alignment_of_the_length(seed):
    batch = np.random.default_rng(seed).dirichlet(np.full(11, 0.4), size=(2, 4))
    for length in range(4):
        best = {index: -math.inf for index in range(2)}
        for path in itertools.product(range(11), repeat=4):
            if len(collapsed(path)) == length:
                for index in best:
                    best[index] = max(
                        best[index], sum(math.log(batch[index, step, label]) for step, label in enumerate(path))
                    )
        assert best_path_log_probabilities(batch, length) == pytest.approx([best[0], best[1]])
    assert best_path_log_probabilities(batch, 5).tolist() == [-math.inf, -math.inf]  # 4 steps: no room for 5 digits


def test_softmax_rows_sum_to_one_and_digit_columns_follow_the_charset():
    assert softmax(np.array([[1000.0, 0.0], [0.0, 0.0]])).sum(axis=1) == pytest.approx([1, 1])
    charset = ["", "a", "7", "0", "1", "2", "3", "4", "5", "6", "8", "9"]
    assert digit_columns(charset) == [0, 3, 4, 5, 6, 7, 8, 9, 2, 10, 11]


def test_softmax_survives_logits_that_overflow_or_vanish_in_float32():
    logits = np.array([[120.0, 119.0, 0.0], [-200.0, -201.0, -300.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    assert softmax(logits) == pytest.approx(shifted / shifted.sum(axis=1, keepdims=True), rel=1e-5)


@pytest.mark.parametrize("blank", [1e-4, 0.01])
def test_long_inputs_with_little_blank_do_not_underflow(blank):
    """600 steps whose mass is mostly on letters: the search's scores shrink every step."""
    probabilities = np.full((600, 11), 1e-6)
    probabilities[:, BLANK] = blank
    for step, digit in zip((100, 250, 400, 550), (3, 1, 4, 1)):
        probabilities[step, digit + 1] = 0.9
    assert best_digits(probabilities, 4) == "3141"


def test_the_joint_reading_weighs_ddddocrs_views_below_our_model():
    """Our model prefers 1234 to 1284; ddddocr's view prefers 1284, by more than our model's margin
    but less than its margin over VIEW_WEIGHT. Multiplied as equals the view would win; weighted,
    ours does."""
    ours = steps("1", "-", "2", "-", "3", "-", "4")
    ours[4, 3 + 1], ours[4, 8 + 1] = 0.6, 0.35
    our_margin = math.log(0.6 / 0.35)
    view_margin = our_margin * (1 + VIEW_WEIGHT) / (2 * VIEW_WEIGHT)
    view = steps("1", "-", "2", "-", "8", "-", "4")
    view[4, 3 + 1], view[4, 8 + 1] = 0.2, 0.2 * math.exp(view_margin)
    assert joint_evidence(ours, [view], 4, view_weight=1.0).digits == "1284"
    assert joint_evidence(ours, [view], 4).digits == "1234"
