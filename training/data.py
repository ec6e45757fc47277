"""Training samples: captchas rendered from a seed, read into the digit model's input."""

import concurrent.futures
import functools
import hashlib
import multiprocessing
import os
import pathlib
import random

import numpy as np

from captcha_service.ocr.digit_model import INPUT_HEIGHT, INPUT_WIDTH, digit_model_input
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.rendering import trim_margins

from .generators import captcha_py, django_captcha, gregwar_captcha, stop_line_services, wheezy_captcha
from .render import random_digits, render_captcha

# Mostly our own renderer; four generators of the validation folders, a little each.
SOURCES = ((0.7, "render"), (0.075, "captcha"), (0.075, "wheezy"), (0.075, "gregwar"), (0.075, "django"))
GENERATORS = {"captcha": captcha_py, "wheezy": wheezy_captcha, "gregwar": gregwar_captcha, "django": django_captcha}
# The renderer's held-out families alone (render.render_captcha): a validation set, never a training source.
HELD_OUT_FAMILIES = ((1.0, "render-held-out"),)
# What decides the captchas a seed draws: a set drawn by other code or fonts is drawn again, not read from the cache,
# and a run stopped half-way does not carry on over other captchas (training/train.py).
DRAWING_CODE = (
    "data.py",
    "render.py",
    "fonts.py",
    "generators.py",
    "gregwar.php",
    "django_captcha.py",
    "debian-packages.txt",
)


def captcha_of_seed(seed, sources=SOURCES):
    """The captcha of one seed: the same image and digits on every run of the same ``sources``."""
    rng = random.Random(seed)
    source = rng.choices([name for _, name in sources], weights=[weight for weight, _ in sources])[0]
    if source in ("render", "render-held-out"):
        return render_captcha(rng, held_out=source == "render-held-out")
    return GENERATORS[source](rng, random_digits(rng))


def model_pixels(image_bytes):
    """What the service feeds the digit model for these image bytes (uint8, H x W)."""
    return digit_model_input(trim_margins(decode_picture(image_bytes)))


def without(left_out):
    """SOURCES without the named ones (a model that must not have seen those families)."""
    unknown = set(left_out) - {name for _, name in SOURCES}
    if unknown:
        raise ValueError(f"no such sources: {sorted(unknown)}; the sources are {[name for _, name in SOURCES]}")
    return tuple((weight, name) for weight, name in SOURCES if name not in left_out)


def runnable(sources=SOURCES):
    """(the sources that draw here, {name: why not} of the others): one captcha of each is drawn to find out.

    For a site's fine-tune, which mixes in what this machine has (a pip install has no PHP or
    Django); training the general model needs them all.
    """
    usable, missing = [], {}
    for weight, name in sources:
        try:
            if name != "render":
                GENERATORS[name](random.Random(0), "1234")
        except Exception as error:  # noqa: BLE001 - whatever stops a generator, it is left out and named
            missing[name] = f"{type(error).__name__}: {error}"
        else:
            usable.append((weight, name))
    stop_line_services()  # the workers that draw start their own
    return tuple(usable), missing


def sample(seed, sources=SOURCES):
    captcha = captcha_of_seed(seed, sources)
    return model_pixels(captcha.data), captcha.digits


def build(first_seed, count, processes=None, sources=SOURCES):
    """(pixels (count, H, W) uint8, labels list of str) of seeds first_seed .. first_seed + count - 1."""
    pixels = np.zeros((count, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.uint8)
    labels = []
    seeds = range(first_seed, first_seed + count)
    # Spawned, not forked: a fork copies the caller's onnxruntime sessions, and a worker that
    # frees one waits forever on a thread of the parent's pool (a test session hung so). An
    # executor, not a Pool: a worker that dies breaks it at once, where a Pool waits for ever.
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        for index, (picture, digits) in enumerate(
            pool.map(functools.partial(sample, sources=sources), seeds, chunksize=64)
        ):
            pixels[index] = picture
            labels.append(digits)
    return pixels, labels


@functools.cache
def drawing_code_digest():
    """A short digest of ``DRAWING_CODE``."""
    digest = hashlib.sha1()
    for name in DRAWING_CODE:
        digest.update((pathlib.Path(__file__).with_name(name)).read_bytes())
    return digest.hexdigest()[:10]


def cached_build(folder, first_seed, count, sources=SOURCES):
    """``build``, kept in ``folder`` once rendered: a resumed run does not render its captchas again (unless the code
    that draws them changed)."""
    names = "+".join(f"{name}{weight:g}" for weight, name in sources)
    path = pathlib.Path(folder) / f"captchas-{first_seed}-{count}-{names}-{drawing_code_digest()}.npz"
    if path.exists():
        with np.load(path) as kept:
            return kept["pixels"], [str(label) for label in kept["labels"]]
    pixels, labels = build(first_seed, count, sources=sources)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, pixels=pixels, labels=np.array(labels))
    os.replace(partial, path)
    return pixels, labels
