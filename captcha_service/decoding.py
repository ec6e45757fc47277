"""Turn the model's per-time-step scores into text (CTC decoding)."""

import numpy as np

CTC_BLANK = 0


def greedy_ctc_text(logits, charset):
    """Best class per time step, repeats collapsed, blanks dropped: ddddocr's own decoding.

    ``logits`` has shape (time steps, classes); ``charset[i]`` is the text of class ``i``.
    """
    best = np.argmax(logits, axis=1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return "".join(charset[index] for index in best[keep] if index != CTC_BLANK)
