"""The generators behind ../shared/captchas' synthetic folders that we train on.

`captcha` and wheezy.captcha (PyPI) draw with ``secrets`` and the global ``random``; both are
fed from the sample's own ``random.Random`` here. Gregwar's CaptchaBuilder (Debian's
php-gregwar-captcha, gregwar.php) and django-simple-captcha's view (django_captcha.py, installed
apart: see requirements-django-captcha.txt) each run as a line service, one process per worker,
seeded per captcha. So their captchas are as reproducible as ours.
"""

import base64
import functools
import io
import os
import pathlib
import random
import subprocess
import sys

from .fonts import faces
from .render import Captcha


class _SeededSecrets:
    """The part of ``secrets`` that `captcha` calls, drawn from a seeded generator."""

    def __init__(self, rng):
        self.randbelow = rng.randrange
        self.randbits = rng.getrandbits
        self.choice = rng.choice


def captcha_py(rng, digits):
    """`captcha.image.ImageCaptcha` with its own font or two of ours, at a size of its range."""
    from captcha import image as captcha_image  # here: a fine-tune where it is not installed goes without it

    fonts = [str(path) for path in rng.sample(faces(False), 2)] if rng.random() < 0.5 else None
    width = rng.randint(120, 220)
    generator = captcha_image.ImageCaptcha(width=width, height=int(width * rng.uniform(0.3, 0.45)), fonts=fonts)
    captcha_image.secrets = _SeededSecrets(rng)
    buffer = io.BytesIO()
    generator.generate_image(digits).save(buffer, "PNG")
    return Captcha(digits, buffer.getvalue(), "PNG")


def wheezy_captcha(rng, digits):
    """wheezy.captcha's example pipeline with our fonts and colours chosen at random."""
    from wheezy.captcha import image as wheezy  # here: a fine-tune where it is not installed goes without it

    random.seed(rng.getrandbits(64))
    fonts = [str(path) for path in rng.sample(faces(False), 2)]
    ink = rng.choice(("#5C87B2", "#333333", "#8B1A1A", "#2E7D32", "#6A1B9A"))
    render = wheezy.captcha(
        drawings=[
            wheezy.background(rng.choice(("#EEEECC", "#FFFFFF", "#E0F0FF"))),
            wheezy.text(
                fonts=fonts,
                font_sizes=(rng.randint(30, 42), rng.randint(43, 56)),
                drawings=[wheezy.warp(), wheezy.rotate(), wheezy.offset()],
                color=ink,
            ),
            wheezy.curve(color=ink),
            wheezy.noise(number=rng.randint(10, 60), color=ink),
            wheezy.smooth(),
        ],
        width=rng.randint(150, 220),
        height=rng.randint(60, 80),
    )
    buffer = io.BytesIO()
    render(digits).save(buffer, "JPEG", quality=rng.randint(60, 90))
    return Captcha(digits, buffer.getvalue(), "JPEG")


HERE = pathlib.Path(__file__).resolve().parent
# Where the Makefile installs django-simple-captcha and Django: beside the virtualenv's packages.
DJANGO_CAPTCHA_PATH = pathlib.Path(sys.prefix) / "django-simple-captcha"
LINE_SERVICES = {
    "gregwar": (["php", str(HERE / "gregwar.php")], {}),
    "django": ([sys.executable, str(HERE / "django_captcha.py")], {"PYTHONPATH": str(DJANGO_CAPTCHA_PATH)}),
}


_started = set()  # the (name, pid) of every line service _line_service has started


@functools.cache
def _line_service(name, pid):
    """Process ``pid``'s own process of a line service: keyed by pid, so a forked worker never shares its parent's
    pipes."""
    command, environment = LINE_SERVICES[name]
    _started.add((name, pid))
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **environment}
    )


def stop_line_services():
    """End this process's line services (they would end with it; a caller that only tried them ends them now)."""
    for name, pid in list(_started):
        process = _line_service(name, pid)
        for pipe in (process.stdin, process.stdout):
            try:
                pipe.close()
            except BrokenPipeError:  # one that exited before reading what was written to it
                pass
        process.wait()
    _started.clear()
    _line_service.cache_clear()


class GeneratorStopped(RuntimeError):
    """A line service that exited: not installed here, or broken (its own error is on standard error)."""


def _image_of_line_service(name, request):
    """The image bytes a line service answers to one request line."""
    process = _line_service(name, os.getpid())
    try:
        process.stdin.write(request + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
    except BrokenPipeError:  # it exited before reading
        line = ""
    if not line:
        raise GeneratorStopped(f"the {name} generator ({' '.join(LINE_SERVICES[name][0])}) exited: {process.wait()}")
    return base64.b64decode(line)


def gregwar_captcha(rng, digits):
    """Gregwar's CaptchaBuilder with its own fonts and effects, at its default size or near it."""
    width = 150 if rng.random() < 0.5 else rng.randint(100, 240)
    height = 40 if width == 150 else int(width * rng.uniform(0.22, 0.4))
    request = f"{rng.getrandbits(31)} {digits} {width} {height} {rng.randint(60, 95)}"
    return Captcha(digits, _image_of_line_service("gregwar", request), "JPEG")


def django_captcha(rng, digits):
    """django-simple-captcha's image with its defaults, at its default font size or near it, at 1x or 2x."""
    font_size = 22 if rng.random() < 0.5 else rng.randint(16, 32)
    request = f"{rng.getrandbits(31)} {digits} {font_size} {1 if rng.random() < 0.75 else 2}"
    return Captcha(digits, _image_of_line_service("django", request), "PNG")
