"""Fine-tune our general digit model on one site's labelled captchas, and write it as a site model.

    captcha-ocr finetune DIR --name NAME     (or python -m captcha_service finetune ...)

DIR holds the site's captchas named ``<anything>_<digits>.<ext>``, 50 or more. A fifth is held
out (seeded). The rest train a copy of ``digits.onnx`` (its BatchNorms frozen), each batch mostly
the site's images (moved, scaled, bent and re-contrasted a little every time they are seen) and
partly captchas of our renderer: on a few hundred images alone the model learns them by heart,
forgets what it knew, and is confidently wrong on the site's next captchas. The held-out fifth
and more rendered captchas, read by the exported model on onnxruntime as the service reads them
(as they are and nudged each way: ``steady_evidence``), fit the model's calibration (the
rendered ones show it being wrong, which a good site model seldom is on a few dozen images; a
term of the site's own says how much surer it is on them). The held-out fifth measures it:
right and wrong at the default MIN_CONFIDENCE, read as the service reads with a site model (its
cascade with ddddocr and the general model), each image with a calibration fitted without that
image. A model whose held-out figures fall short of the bar (``MIN_RIGHT``, ``MAX_WRONG``) is
not installed unless forced. Writes ``MODELS_DIR/NAME/digits.onnx`` and ``card.json``, as one
folder put in place at once; a running server serves it without a restart.
"""

import datetime
import json
import math
import pathlib
import secrets
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from torch.nn import functional

from captcha_service.config import Config
from captcha_service.files import install_folder, remove_folder, write_atomically
from captcha_service.ocr.asks import LONGEST, SHORTEST
from captcha_service.ocr.confidence import Calibration, fit_calibration, steady_evidence
from captcha_service.ocr.digit_model import MODEL_FILE, SIGHTINGS, DigitModel
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.recogniser import Recogniser, session_options
from captcha_service.ocr.rendering import trim_margins
from captcha_service.ocr.site_models import (
    CARD_FILE_NAME,
    CARD_VERSION,
    MODEL_FILE_NAME,
    SiteModel,
    check_site_model_name,
)
from captcha_service.version import __version__

from . import data
from .labelled import IMAGE_SUFFIXES
from .memory import keep_freed_heap
from .onnx_weights import digit_net_from_onnx
from .train import Run, as_tensor, export

MIN_IMAGES = 50
# The held-out figures below which a model is not installed (without --force): a site model that
# reads wrongly more often than this, or rightly less often, would serve a site worse than none.
# One wrong answer is always allowed: on the dozen images a small folder holds out, one is 8%.
MIN_RIGHT, MAX_WRONG = 0.5, 0.05
HELD_OUT_SHARE = 0.2
OFF_LENGTH_WEIGHT = 0.1  # readings asked with one digit too few or too many: wrong by construction
REFRESHER_CAPTCHAS, CALIBRATION_CAPTCHAS = 3000, 600
RENDERED_FIRST_SEED = 2 * 10**9  # seeds no training run of the general model uses
SITE_SHARE = 0.75  # of each batch; the rest are rendered captchas
# augment's bend: the spread of each cell's displacement, across and down, in grid_sample's [-1, 1] units (a
# stroke's width or so in the model's input; a stronger bend turns some digits into others).
WARP, WARP_CELLS = (0.06, 0.12), (3, 9)


class FinetuneError(Exception):
    """What is wrong with the folder or the name, for the person who ran the command."""


def labelled_images(directory):
    """[(path, model pixels, digits)] of the folder's images, and [(path, what is wrong)] of the others."""
    images, problems = [], []
    for path in sorted(pathlib.Path(directory).iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue  # hidden: a write in progress (captcha_service.files) or not ours
        digits = path.stem.rsplit("_", 1)[-1] if "_" in path.stem else ""
        if not (digits.isascii() and digits.isdigit() and SHORTEST <= len(digits) <= LONGEST):
            problems.append((path, f"not named <anything>_<digits>{path.suffix} with {SHORTEST} to {LONGEST} digits"))
            continue
        if path.stat().st_size > Config.MAX_IMAGE_BYTES:  # before reading it: a huge file must not fill the memory
            problems.append((path, f"larger than {Config.MAX_IMAGE_BYTES} bytes (MAX_IMAGE_BYTES)"))
            continue
        try:
            images.append((path, data.model_pixels(path.read_bytes()), digits))
        except UnreadableInput as refusal:
            problems.append((path, refusal.detail))
    return images, problems


def augment(pixels, generator):
    """Each picture shifted, scaled, turned, bent and re-contrasted a little (pixels in [0, 1], N x 1 x H x W).

    The bend is a smooth random displacement (a coarse grid of WARP_CELLS, interpolated), so strokes
    keep their shape locally but no two showings of an image are drawn alike: a site's hundred-odd
    images, each seen dozens of times, would otherwise be learnt by heart.
    """
    count = pixels.shape[0]
    angle = (torch.rand(count, generator=generator) - 0.5) * math.radians(6)
    scale = 1 + (torch.rand(count, generator=generator) - 0.5) * 0.2
    shift = (torch.rand(count, 2, generator=generator) - 0.5) * torch.tensor([0.1, 0.2])
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = scale * torch.cos(angle), -torch.sin(angle) * 0.25
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) * 4, scale * torch.cos(angle)
    theta[:, :, 2] = shift
    bend = torch.randn(count, 2, *WARP_CELLS, generator=generator) * torch.tensor(WARP).view(1, 2, 1, 1)
    bend = functional.interpolate(bend, size=pixels.shape[2:], mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    grid = functional.affine_grid(theta, pixels.shape, align_corners=False) + bend
    moved = functional.grid_sample(pixels, grid, padding_mode="border", align_corners=False)
    contrast = 1 + (torch.rand(count, 1, 1, 1, generator=generator) - 0.5) * 0.6
    brightness = (torch.rand(count, 1, 1, 1, generator=generator) - 0.5) * 0.2
    return (moved * contrast + brightness).clamp(0, 1)


def site_batches(pixels, labels, batch, seed, refresher=None):
    """The batch source of a fine-tune: each batch ``SITE_SHARE`` the site's pictures, the rest of ``refresher``
    ((pixels, labels) of rendered captchas), every picture ``augment``-ed anew each time it is shown."""
    generator = torch.Generator().manual_seed(seed)
    site_count = len(labels)
    if refresher is not None:
        pixels, labels = np.concatenate([pixels, refresher[0]]), list(labels) + list(refresher[1])
    targets = [torch.tensor([int(digit) + 1 for digit in label]) for label in labels]
    inputs = as_tensor(pixels)

    def batch_of(_epoch, _step):
        chosen = torch.randint(len(labels), (batch,), generator=generator)
        if refresher is not None:
            site_share = round(batch * SITE_SHARE)
            chosen[:site_share] = torch.randint(site_count, (site_share,), generator=generator)
        return augment(inputs[chosen], generator), [targets[index] for index in chosen.tolist()]

    return batch_of


def train_steps(model, pixels, labels, steps, batch, learning_rate, seed, log, refresher=None):
    """``steps`` steps of ``batch`` pictures (``site_batches``), in training/train.py's loop; the model left in eval
    mode."""
    run = Run(model, {"learning_rate": learning_rate, "epochs": 1, "warmup": 0.1}, steps)
    run.advance(site_batches(pixels, labels, batch, seed, refresher), log)
    model.eval()


def held_out_readings(digit_model, pictures):
    """Per (picture, digits), its readings asked at its length and one digit fewer and more, as the service reads
    with a site model (``steady_evidence``): [(index, signals, right, weight)]."""
    rows = []
    for index, (picture, digits) in enumerate(pictures):
        sightings = digit_model.nudged_probabilities(picture, SIGHTINGS)
        for asked in (len(digits) - 1, len(digits), len(digits) + 1):
            evidence = steady_evidence(sightings, asked) if SHORTEST <= asked <= LONGEST else None
            if evidence is not None:
                rows.append(
                    (
                        index,
                        evidence.signals.values(),
                        evidence.digits == digits,
                        1.0 if asked == len(digits) else OFF_LENGTH_WEIGHT,
                    )
                )
    return rows


def site_calibration(signals, right, weights, from_site):
    """A calibration with a term of its own for the site's rows, returned as the site's: the rendered captchas
    show how the odds grow with the signals (and what being wrong looks like), the site's few how much surer
    than that the model is on its own site's captchas at the same signals."""
    fitted = fit_calibration(np.column_stack([signals, from_site]), right, weights)
    return Calibration(fitted.weights[:-1], fitted.bias + fitted.weights[-1])


def calibrations(rows, images):
    """The calibration fitted on every row, and for each of the site's held-out images 0 .. ``images`` - 1 (the
    rows of the others only calibrate) one fitted without that image's rows, to measure it by."""
    image_of = np.array([row[0] for row in rows])
    signals, right, weights = (np.array([row[index] for row in rows], dtype=float) for index in (1, 2, 3))
    from_site = (image_of < images).astype(float)
    without = [image_of != image for image in range(images)]
    return site_calibration(signals, right, weights, from_site), [
        site_calibration(signals[others], right[others], weights[others], from_site[others]) for others in without
    ]


def measure(recogniser, digit_model, held_out, held_out_calibrations, threshold):
    """Right, wrong and refused at ``threshold`` of the held-out (decoded picture, digits) read as the service reads
    them with the site model (``Recogniser.read``), each with a calibration fitted without it."""
    counts = {"right": 0, "wrong": 0, "refused": 0}
    for (picture, digits), calibration in zip(held_out, held_out_calibrations):
        site_model = SiteModel("held-out", digit_model, calibration)
        try:
            reading = recogniser.read(picture, len(digits), site_model)
        except UnreadableInput:
            reading = None
        counts[
            "refused"
            if reading is None or reading.confidence < threshold
            else "right"
            if reading.digits == digits
            else "wrong"
        ] += 1
    return {name: round(count / len(held_out), 4) for name, count in counts.items()}


def meets_the_bar(figures, images):
    """Whether held-out ``figures`` (shares of ``images``) are good enough to install the model without --force."""
    return figures["right"] >= MIN_RIGHT and round(figures["wrong"] * images) <= max(1, MAX_WRONG * images)


def finetune(directory, name, models_dir, steps=800, batch=32, learning_rate=1e-3, seed=0, force=False, log=print):
    """Fine-tune on DIR's images and write ``models_dir/name``; returns the card.

    Raises FinetuneError, having installed nothing, when the held-out figures fall short of
    MIN_RIGHT and MAX_WRONG, unless ``force``.
    """
    try:
        check_site_model_name(name)
    except ValueError as error:
        raise FinetuneError(str(error)) from None
    wall = time.perf_counter()
    keep_freed_heap()
    images, problems = labelled_images(directory)
    if problems:
        raise FinetuneError(
            "these files cannot be used (fix or remove them):\n"
            + "\n".join(f"  {path}: {why}" for path, why in problems)
        )
    if len(images) < MIN_IMAGES:
        raise FinetuneError(f"{len(images)} labelled images in {directory}; at least {MIN_IMAGES} are needed")
    order = np.random.default_rng(seed).permutation(len(images))
    cut = max(1, round(len(images) * HELD_OUT_SHARE))
    held_out, tuned_on = [images[i] for i in order[:cut]], [images[i] for i in order[cut:]]
    log(f"{len(images)} images: fine-tuning on {len(tuned_on)}, holding out {len(held_out)}")

    sources, missing = data.runnable()
    for generator, why in missing.items():
        log(f"not mixing in the {generator} generator, which does not draw here ({why})")
    log(
        f"rendering {REFRESHER_CAPTCHAS + CALIBRATION_CAPTCHAS} captchas of our own "
        f"({', '.join(name for _, name in sources)}) to train and calibrate beside them"
    )
    rendered_pixels, rendered_labels = data.build(
        RENDERED_FIRST_SEED + seed * 10**6, REFRESHER_CAPTCHAS + CALIBRATION_CAPTCHAS, sources=sources
    )
    refresher = (rendered_pixels[:REFRESHER_CAPTCHAS], rendered_labels[:REFRESHER_CAPTCHAS])

    torch.manual_seed(seed)
    model = digit_net_from_onnx(MODEL_FILE)
    site_pixels, site_labels = np.stack([pixels for _, pixels, _ in tuned_on]), [digits for *_, digits in tuned_on]
    train_steps(model, site_pixels, site_labels, steps, batch, learning_rate, seed, log, refresher)

    with tempfile.TemporaryDirectory() as scratch:
        exported = pathlib.Path(scratch) / MODEL_FILE_NAME
        export(model, exported)
        digit_model = DigitModel(session_options(3, 1), path=exported)
        decoded = [(decode_picture(path.read_bytes()), digits) for path, _, digits in held_out]
        pictures = [(trim_margins(picture), digits) for picture, digits in decoded]
        pictures += [
            (Image.fromarray(pixels), digits)
            for pixels, digits in zip(rendered_pixels[REFRESHER_CAPTCHAS:], rendered_labels[REFRESHER_CAPTCHAS:])
        ]
        calibration, held_out_calibrations = calibrations(held_out_readings(digit_model, pictures), len(held_out))
        log(f"reading the held-out {len(held_out)} as the service would ({Config.OCR_MODEL}, with the new model)")
        figures = measure(
            Recogniser(Config.OCR_MODEL, 3), digit_model, decoded, held_out_calibrations, Config.MIN_CONFIDENCE
        )
        card = {
            "card_version": CARD_VERSION,
            "name": name,
            "length": trained_length(digits for *_, digits in images),
            "trained": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "images": len(images),
            "held_out": {"images": len(held_out), "min_confidence": Config.MIN_CONFIDENCE, **figures},
            "steps": steps,
            "batch": batch,
            "learning_rate": learning_rate,
            "seed": seed,
            "rendered with": [name for _, name in sources],
            "seconds": round(time.perf_counter() - wall),
            "calibration": {"weights": list(calibration.weights), "bias": calibration.bias},
            "general_model": json.loads(MODEL_FILE.with_suffix(".card.json").read_text()).get("trained"),
            "captcha_ocr": __version__,
            "torch": torch.__version__,
        }
        summary = (
            f"held out {len(held_out)} images at min_confidence {Config.MIN_CONFIDENCE}: "
            f"right {100 * figures['right']:.1f}%, "
            f"wrong {100 * figures['wrong']:.1f}%, refused {100 * figures['refused']:.1f}%"
        )
        log(summary)
        if not force and not meets_the_bar(figures, len(held_out)):
            raise FinetuneError(
                f"not installed: {summary}, short of the bar (right at least {100 * MIN_RIGHT:.0f}%, wrong at most "
                f"{100 * MAX_WRONG:.0f}% or one image). Check the labels, add images, or install it anyway with --force"
            )
        install(exported, card, pathlib.Path(models_dir) / name)
    log(f"wrote {pathlib.Path(models_dir) / name} in {card['seconds']} s")
    return card


def trained_length(labels):
    """The one length of ``labels`` (the card's ``length``: a request naming the model without one reads that many
    digits), or None when they have several: then the request's length, or OCR_DIGITS, decides."""
    lengths = {len(digits) for digits in labels}
    return lengths.pop() if len(lengths) == 1 else None


def install(model_file, card, folder):
    """The model and its card as one new folder, written whole, then put in ``folder``'s place at once: a server
    reading the old model never sees the new card beside it, and a failure leaves the old folder as it was."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    new = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.new")
    new.mkdir()
    try:
        write_atomically(new / CARD_FILE_NAME, json.dumps(card, indent=2).encode() + b"\n")
        write_atomically(new / MODEL_FILE_NAME, model_file.read_bytes())
        install_folder(new, folder)
    except BaseException:
        if new.exists():
            remove_folder(new)
        raise
