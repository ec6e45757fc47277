"""The service's engine from the command line (``captcha-ocr`` or ``python -m captcha_service``).

``serve``: the server, as ``python wsgi.py`` runs it (HOST, PORT and the other settings from the
environment).

``read IMAGE...``: handy to check a new site's captchas before wiring a pipeline. Settings come
from the environment as the server's do (OCR_MODEL, OCR_DIGITS, MIN_CONFIDENCE, MAX_*, MODELS_DIR).
One line per image, tab-separated: ``NAME DIGITS CONFIDENCE`` for a sure reading, ``NAME refused
REASON`` otherwise. Exit status: 0 when every image was read surely, 1 when any was refused, 2 on
bad usage.

``finetune DIR --name NAME``: a site model from DIR's labelled captchas, written into
MODELS_DIR/NAME (see training/finetune.py). Needs the training requirements (requirements-train.txt,
or ``pip install 'captcha-service[train]'``). Exit status 0, or 2
when the folder or the name cannot be used, or the model falls short of the bar on its held-out
images (nothing is installed then; --force installs it anyway).
"""

import argparse
import os
import sys
from concurrent.futures import BrokenExecutor

import onnxruntime

from .api import serving
from .config import load_config
from .ocr.asks import LEAST_CONFIDENCE, LONGEST, MOST_CONFIDENCE, SHORTEST
from .ocr.exceptions import UnreadableInput
from .ocr.pipeline import CaptchaPipeline

STANDARD_INPUT = "-"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m captcha_service", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the HTTP API (settings from the environment: HOST, PORT, ...)")
    read = commands.add_parser("read", help="read captcha image files ('-' reads standard input)")
    read.add_argument("images", nargs="+", metavar="IMAGE")
    read.add_argument(
        "--length", type=int, choices=range(SHORTEST, LONGEST + 1), help="digits per captcha (default OCR_DIGITS)"
    )
    read.add_argument(
        "--min-confidence", type=float, help="refuse readings less sure than this (default MIN_CONFIDENCE)"
    )
    read.add_argument("--model", help="a site model of MODELS_DIR to read with (default: the general model)")
    finetune = commands.add_parser(
        "finetune", help="fine-tune a site model on a folder of labelled captchas (<anything>_<digits>.<ext>)"
    )
    finetune.add_argument("directory", metavar="DIR")
    finetune.add_argument("--name", required=True, help="the site model's name: letters, digits, '_' or '-'")
    finetune.add_argument("--steps", type=int, help="training steps of 32 images (default: training/finetune.py's)")
    finetune.add_argument(
        "--force", action="store_true", help="install the model even if its held-out figures fall short of the bar"
    )
    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        return serving.main()
    config = load_config(os.environ)
    if arguments.command == "finetune":
        return _finetune(arguments, config)
    if arguments.min_confidence is not None and not LEAST_CONFIDENCE <= arguments.min_confidence <= MOST_CONFIDENCE:
        parser.error(f"--min-confidence must be from {LEAST_CONFIDENCE:g} to {MOST_CONFIDENCE:g}")

    onnxruntime.set_default_logger_severity(config["ORT_LOGGING_LEVEL"])
    pipeline = CaptchaPipeline.from_config(config)
    length = arguments.length or config["OCR_DIGITS"]
    min_confidence = config["MIN_CONFIDENCE"] if arguments.min_confidence is None else arguments.min_confidence
    refused = 0
    for name in arguments.images:
        try:
            reading = pipeline.read(_image_bytes(name), length, min_confidence, arguments.model)
        except (UnreadableInput, OSError) as refusal:
            refused += 1
            print(f"{name}\trefused\t{getattr(refusal, 'detail', None) or refusal}")
        else:
            print(f"{name}\t{reading.digits}\t{reading.confidence}")
    return 1 if refused else 0


def _finetune(arguments, config):
    try:
        from training.finetune import FinetuneError, finetune
    except ImportError as missing:
        print(
            f"finetune needs the training requirements ({missing.name} is missing): "
            "pip install 'captcha-service[train]' "
            "(or, in a clone, pip install -r requirements-train.txt)",
            file=sys.stderr,
        )
        return 2
    try:
        steps = {"steps": arguments.steps} if arguments.steps else {}
        finetune(arguments.directory, arguments.name, config["MODELS_DIR"], force=arguments.force, log=print, **steps)
    except (FinetuneError, OSError) as error:
        print(f"finetune: {error}", file=sys.stderr)
        return 2
    except BrokenExecutor as error:  # a render worker died (killed, out of memory): stop, never wait for it
        print(
            f"finetune: a worker rendering captchas stopped ({error or type(error).__name__}); nothing was installed",
            file=sys.stderr,
        )
        return 1
    return 0


def _image_bytes(name):
    if name == STANDARD_INPUT:
        return sys.stdin.buffer.read()
    with open(name, "rb") as image:
        return image.read()
