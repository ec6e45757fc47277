"""Fresh captchas of the generators our model trains on, for the leave-one-family-out set's larger sample.

A folder of ../shared/captchas holds 200 captchas, so a family left out that is wrong on 2% of them
is wrong on four: one captcha more or less moves the figure by half a point, about the margin by
which a threshold meets the 2% bound. These are drawn as training draws them
(``training.generators``: each generator with its settings varied), seeded and kept under
build/, and read by the model that never saw their generator: the same family, many more captchas.
"""

import pathlib
import random

from training.data import GENERATORS
from training.generators import stop_line_services

from .families import TRAINED_ON

FRESH_ROOT = pathlib.Path(__file__).resolve().parent.parent / "build" / "fresh-draws"
LENGTH = 4  # the folders' length, which bench reads at


def fresh_draws(count, root=FRESH_ROOT):
    """A root holding, for each folder of a generator we train on, a folder of ``count`` fresh captchas of that
    generator named ``<index>_<digits>.<ext>`` (the folder's own name, so that ``families`` maps it); drawn on the
    first call, the same ones every time."""
    root = pathlib.Path(root) / str(count)
    try:
        for folder, generator in TRAINED_ON.items():
            target = root / folder
            target.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                if not any(target.glob(f"{index}_*")):
                    rng = random.Random(f"fresh-{folder}-{index}")
                    captcha = GENERATORS[generator](rng, "".join(rng.choice("0123456789") for _ in range(LENGTH)))
                    (target / f"{index}_{captcha.digits}.{captcha.format.lower()}").write_bytes(captcha.data)
    finally:
        stop_line_services()
    return root
