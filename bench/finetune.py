"""The site-learning goal: fine-tune on part of a folder, read the rest with the site model.

    python -m bench.finetune [FOLDER ...] [--images N]
        (default: ../shared/captchas/real_dotted_transparent and captcha_py)

For each folder: its images shuffled (seed 0), ``captcha-ocr finetune`` on the first
``--images`` (default: half of them; timed, as the command runs), then the others read as the service reads them
(CaptchaPipeline, default MIN_CONFIDENCE), with the new site model and with the general model:
right, wrong and refused of each.
"""

import argparse
import os
import pathlib
import random
import shutil
import tempfile
import time

from captcha_service.config import Config, load_config
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.pipeline import CaptchaPipeline
from training.finetune import finetune
from training.labelled import DEFAULT_ROOT, label_of, labelled_folders

DEFAULT_FOLDERS = (DEFAULT_ROOT / "real_dotted_transparent", DEFAULT_ROOT / "captcha_py")


def rates(pipeline, paths, model):
    counts = {"right": 0, "wrong": 0, "refused": 0}
    for path in paths:
        try:
            reading = pipeline.read(path.read_bytes(), len(label_of(path)), Config.MIN_CONFIDENCE, model)
        except UnreadableInput:
            counts["refused"] += 1
        else:
            counts["right" if reading.digits == label_of(path) else "wrong"] += 1
    return "  ".join(f"{name} {100 * count / len(paths):5.1f}%" for name, count in counts.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=DEFAULT_FOLDERS, type=pathlib.Path)
    parser.add_argument("--images", type=int, help="images to fine-tune on (default: half; the rest measure)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        config = load_config(os.environ) | {"MODELS_DIR": os.path.join(scratch, "models")}
        pipeline = CaptchaPipeline.from_config(config)
        for name, paths in labelled_folders(arguments.folders).items():
            paths = list(paths)
            random.Random(0).shuffle(paths)
            cut = arguments.images or len(paths) // 2
            tuned_on, measured = paths[:cut], paths[cut:]
            folder = pathlib.Path(scratch, name)
            folder.mkdir()
            for path in tuned_on:
                shutil.copy(path, folder / path.name)
            print(f"{name}: fine-tuning on {len(tuned_on)} images, measuring on {len(measured)}", flush=True)
            started = time.perf_counter()
            card = finetune(folder, name, config["MODELS_DIR"], log=lambda *args, **kwargs: None)
            print(
                f"  finetune took {time.perf_counter() - started:.0f} s (goal <= 300); "
                f"its own held-out fifth: {card['held_out']}"
            )
            print(f"  site model    {rates(pipeline, measured, name)}   (goal: right >= 98%, wrong <= 0.5%)")
            print(f"  general model {rates(pipeline, measured, None)}", flush=True)


if __name__ == "__main__":
    main()
