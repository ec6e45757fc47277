"""django-simple-captcha's image view as a line-by-line service for training/generators.py.

Run in a process of its own, with its install folder on PYTHONPATH (its package is called
`captcha`, as is the PyPI library the training process imports). Each input line
"seed digits font_size scale" is answered with one line: the PNG in base64. The view's own
drawing code runs with its default settings (font, rotation, noise, smoothing) apart from the
font size and scale given; seeded as the view seeds itself (``random.seed`` before drawing).
"""

import base64
import random
import sys
from types import SimpleNamespace

import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["captcha"], USE_TZ=True)
django.setup()

from captcha import views  # noqa: E402  (needs the settings above)
from captcha.conf import settings as captcha_settings  # noqa: E402


def main():
    for line in sys.stdin:
        seed, digits, font_size, scale = line.split()
        captcha_settings.CAPTCHA_FONT_SIZE = int(font_size)
        random.seed(int(seed))
        response = views._captcha_image(SimpleNamespace(challenge=digits), int(scale))
        sys.stdout.write(base64.b64encode(response.content).decode() + "\n")
        sys.stdout.flush()


main()
