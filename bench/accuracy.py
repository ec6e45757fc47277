"""Accuracy on labelled captcha folders, against the old method measured in the same run.

    python -m bench.accuracy [FOLDER ...] [--unseen ROOT] [--model M] [--min-confidence C] [--url URL] [--json FILE]

FOLDER: a folder of `<index>_<digits>.<ext>` images, or a root of such folders
(default ../shared/captchas: the families we develop, tune and calibrate on). Four sets of
readings, each reported per folder and macro-averaged over folders:
  seen in development     FOLDER as the service reads it
  leave-one-family-out    FOLDER again, each folder read by a digit model that never saw its
                          family (bench/families.py) with calibrations fitted on the other
                          folders only: the honest estimate for a family we have never seen
                          (in this process only, not with --url)
  unseen families         --unseen: a root of families nothing was trained, calibrated or tuned
                          on (default ../shared/ood; '' for none), read as the service reads it
  left out, fresh draws   --fresh N: N fresh captchas of each generator our model trains on
                          (bench/fresh_draws.py; default 500, 0 for none), read as the
                          leave-one-family-out set reads that generator's folder: a larger sample
                          of the same families (in this process only)
For each it prints:
  right / wrong / refused  at min_confidence (refused = the service would answer 422)
  no threshold             right and wrong when every reading is answered
  baseline                 ddddocr classification(), then the first 4 digits (the old service)
then macro right / wrong at other thresholds (risk and coverage), precision by confidence (a
reliability table), the time per image and the models' memory; and last, the sets side by side:
macro right / wrong / refused, and the folder most often wrong.
Each image is read once (its confidence does not depend on the threshold asked); each threshold
is applied to those readings.
With --url the readings come from a running server (POST /ocr; a refusal's body still has the
digits and confidence read), so the HTTP path is measured too.
"""

import argparse
import base64
import json
import resource
import time

import ddddocr
import numpy as np
import onnxruntime
import requests

from captcha_service.config import Config
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.recogniser import DIGIT_MODEL_ALONE, OCR_MODELS, Recogniser, is_cascade, load_calibrations
from training.labelled import DEFAULT_ROOT, UNSEEN_ROOT, label_of, labelled_folders

from .calibrate import calibrations_without, unseen_readings
from .families import unseeing_model
from .fresh_draws import fresh_draws

SWEEP = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0001)
NOT_READ = (None, 0.0, None, False)


def engine_reader(model, length, digit_model_file=MODEL_FILE, calibrations=None):
    """(digits, confidence, decided by, whether the two readers disagreed) of image bytes, read in this process;
    NOT_READ if refused."""
    recogniser = Recogniser(model, 3, digit_model_file=digit_model_file, calibrations=calibrations)
    recogniser.warm_up()

    def read(data):
        try:
            reading = recogniser.read(decode_picture(data), length)
        except UnreadableInput:
            return NOT_READ
        return reading.digits, reading.confidence, reading.decided_by, reading.readers_agree is False

    return read


def http_reader(url, length, min_confidence):
    """(digits, confidence, None, refused as unfamiliar) of image bytes, read by the server at ``url``;
    NOT_READ if refused."""
    session = requests.Session()

    def read(data):
        body = {"image_base64": base64.b64encode(data).decode(), "length": length, "min_confidence": min_confidence}
        answer = session.post(url.rstrip("/") + "/ocr", json=body, timeout=30).json()
        return (
            (answer["digits"], answer["confidence"], None, answer.get("reason") == "unfamiliar")
            if "digits" in answer
            else NOT_READ
        )

    return read


def unseen_family_readers(model, folders, length):
    """{folder: engine_reader} leave-one-family-out: the digit model that never saw the folder's family, and
    calibrations fitted on the other folders' readings by such models (bench.calibrate)."""
    readings, shipped = unseen_readings(model, folders, length), load_calibrations()
    return {
        folder: engine_reader(model, length, unseeing_model(folder), shipped | calibrations_without(readings, folder))
        for folder in folders
    }


def baseline_reader(length):
    """The old service's method: ddddocr's text, its first ``length`` digits, or None."""
    ocr = ddddocr.DdddOcr(show_ad=False)

    def read(data):
        digits = "".join(character for character in ocr.classification(data) if character in "0123456789")
        return digits[:length] if len(digits) >= length else None

    return read


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Run:
    """Every reading of one run: per folder, arrays of labels, digits, confidences, baseline digits."""

    def __init__(self, folders, read_of, read_baseline):
        """``read_of``: {folder: the reader of its images}."""
        self.folders = {}
        self.seconds = 0.0
        for folder, paths in folders.items():
            rows = []
            for path in paths:
                data = path.read_bytes()
                started = time.perf_counter()
                digits, confidence, decided_by, disagreed = read_of[folder](data)
                self.seconds += time.perf_counter() - started
                rows.append((label_of(path), digits, confidence, read_baseline(data), decided_by, disagreed))
            self.folders[folder] = rows
        self.images = sum(len(rows) for rows in self.folders.values())

    def rates(self, folder, min_confidence, baseline=False):
        """(right, wrong, refused) shares of one folder."""
        rows = self.folders[folder]
        answers = [
            (label, base if baseline else (digits if confidence >= min_confidence else None))
            for label, digits, confidence, base, *_ in rows
        ]
        right = sum(answer == label for label, answer in answers)
        refused = sum(answer is None for _, answer in answers)
        return right / len(rows), (len(rows) - right - refused) / len(rows), refused / len(rows)

    def stage_shares(self, folder):
        """Shares of a folder's captchas the cascade answered with our digit model's reading (ddddocr's first view
        agreeing), and jointly after ddddocr's first view."""
        rows = self.folders[folder]
        return (
            sum(decided_by == DIGIT_MODEL_ALONE for *_, decided_by, _ in rows) / len(rows),
            sum(decided_by is not None and decided_by.first_view_only for *_, decided_by, _ in rows) / len(rows),
        )

    def unfamiliar(self, min_confidence):
        """(refusals whose two readers disagreed, i.e. 422 ``unfamiliar``; every refusal) over all folders."""
        refused = [
            disagreed
            for rows in self.folders.values()
            for *_, confidence, _, _, disagreed in rows
            if confidence < min_confidence
        ]
        return sum(refused), len(refused)

    def reliability(self):
        """[(low, high, answers with a confidence in [low, high), share of them right)] over all folders."""
        rows = [
            (confidence, digits == label)
            for rows in self.folders.values()
            for label, digits, confidence, *_ in rows
            if digits is not None
        ]
        bins = []
        for low, high in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:]):
            inside = [right for confidence, right in rows if low <= confidence < high]
            bins.append((low, min(high, 1.0), len(inside), float(np.mean(inside)) if inside else float("nan")))
        return bins

    def macro(self, min_confidence, baseline=False):
        return tuple(
            np.mean([self.rates(folder, min_confidence, baseline)[i] for folder in self.folders]) for i in range(3)
        )

    def table(self, min_confidence):
        """{folder or 'macro': {outcome: share}} for the JSON output."""

        def row(rates):
            return dict(zip(("right", "wrong", "refused"), rates))

        table = {
            folder: {
                "images": len(rows),
                **row(self.rates(folder, min_confidence)),
                "no threshold": row(self.rates(folder, 0.0)),
                "baseline": row(self.rates(folder, 0.0, baseline=True)),
            }
            for folder, rows in self.folders.items()
        }
        table["macro"] = {
            "images": self.images,
            **row(self.macro(min_confidence)),
            "no threshold": row(self.macro(0.0)),
            "baseline": row(self.macro(0.0, baseline=True)),
        }
        return table


def percent(share):
    return f"{100 * share:5.1f}%"


def print_report(run, name, min_confidence, model_memory, cascade):
    print(f"{name}, min_confidence {min_confidence}")
    header = (
        f"{'folder':24s} {'n':>5s} | {'right':>6s} {'wrong':>6s} {'refused':>7s} | "
        f"no threshold {'right':>6s} {'wrong':>6s}"
        f" | baseline {'right':>6s} {'wrong':>6s} {'refused':>7s}"
    )
    print(header)
    print("-" * len(header))
    rows = [
        (folder, len(rows), run.rates(folder, min_confidence), run.rates(folder, 0.0), run.rates(folder, 0.0, True))
        for folder, rows in run.folders.items()
    ]
    rows.append(("macro", run.images, run.macro(min_confidence), run.macro(0.0), run.macro(0.0, True)))
    for folder, count, at_threshold, any_reading, baseline in rows:
        print(
            f"{folder:24s} {count:5d} | {percent(at_threshold[0])} {percent(at_threshold[1])} "
            f"{percent(at_threshold[2]):>7s} |"
            f"              {percent(any_reading[0])} {percent(any_reading[1])} |"
            f"          {percent(baseline[0])} {percent(baseline[1])} {percent(baseline[2]):>7s}"
        )
    print(
        "macro by min_confidence: "
        + "  ".join(
            f"{threshold}: right {percent(run.macro(threshold)[0])} wrong {percent(run.macro(threshold)[1])}"
            for threshold in SWEEP
        )
    )
    if cascade:  # which of the cascade's stages answered: known where this process read
        shares = {folder: run.stage_shares(folder) for folder in run.folders}
        for stage, title in enumerate(
            (
                "by our digit model, ddddocr's first view reading the same",
                "jointly after ddddocr's first view (one run, not three)",
            )
        ):
            print(
                f"answered {title}: "
                + ", ".join(f"{folder} {percent(share[stage]).strip()}" for folder, share in shares.items())
                + f"; macro {percent(np.mean([share[stage] for share in shares.values()])).strip()}"
            )
    print(
        "precision by confidence (every folder): "
        + ", ".join(
            f"[{low:.2f}, {high:.2f}) {count} read, {percent(precision).strip()} right"
            for low, high, count, precision in run.reliability()
            if count
        )
    )
    print(
        "refusals where our model and ddddocr read differently (reason unfamiliar): {} of {}".format(
            *run.unfamiliar(min_confidence)
        )
    )
    print(f"time per image: {1000 * run.seconds / run.images:.1f} ms (reading only, this process, one at a time)")
    if model_memory is not None:
        print(f"memory of the loaded models (peak RSS growth while loading and warming up): {model_memory:.0f} MB")


def print_side_by_side(runs, min_confidence):
    """Macro right / wrong / refused of each set of families, and its folder most often wrong, in columns."""

    def cells(run):
        worst = max(run.folders, key=lambda folder: run.rates(folder, min_confidence)[1])
        return (
            " / ".join(percent(share).strip() for share in run.macro(min_confidence)),
            " / ".join(percent(share).strip() for share in run.macro(0.0)[:2]),
            f"{worst} {percent(run.rates(worst, min_confidence)[1]).strip()}",
        )

    columns = {title: cells(run) for title, run in runs.items()}
    width = max(28, *(len(title) for title in columns))
    print(f"\nside by side, min_confidence {min_confidence} (macro over folders)")
    print(f"{'':34s}" + "".join(f" | {title:{width}s}" for title in columns))
    for index, label in enumerate(
        ("right / wrong / refused", "no threshold: right / wrong", "folder most often wrong")
    ):
        print(f"{label:34s}" + "".join(f" | {column[index]:{width}s}" for column in columns.values()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=[DEFAULT_ROOT])
    parser.add_argument(
        "--unseen", default=str(UNSEEN_ROOT), help="a root of families never trained or calibrated on ('' for none)"
    )
    parser.add_argument("--model", default=Config.OCR_MODEL, choices=sorted(OCR_MODELS))
    parser.add_argument("--min-confidence", type=float, default=Config.MIN_CONFIDENCE)
    parser.add_argument("--length", type=int, default=Config.OCR_DIGITS)
    parser.add_argument("--url", help="measure a running server instead of reading in this process")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--fresh", type=int, default=500, help="fresh captchas of each trained generator (0: none)")
    arguments = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    if arguments.url:
        read, name, model_memory = (
            http_reader(arguments.url, arguments.length, arguments.min_confidence),
            f"server at {arguments.url}",
            None,
        )
    else:
        before = rss_mb()
        read, name = engine_reader(arguments.model, arguments.length), f"model {arguments.model}"
        model_memory = rss_mb() - before
    seen = labelled_folders(arguments.folders)
    sets = {"seen in development": (arguments.folders, dict.fromkeys(seen, read))}
    if not arguments.url:
        left_out = unseen_family_readers(arguments.model, seen, arguments.length)
        sets["leave-one-family-out"] = (arguments.folders, left_out)
    if arguments.unseen:
        sets["unseen families"] = ([arguments.unseen], dict.fromkeys(labelled_folders([arguments.unseen]), read))
    if not arguments.url and arguments.fresh:
        drawn = fresh_draws(arguments.fresh)
        if set(labelled_folders([drawn])) <= set(left_out):  # the folders they stand beside are measured too
            sets["left out, fresh draws"] = ([drawn], left_out)
    baseline = baseline_reader(arguments.length)
    runs = {}
    for title, (folders, read_of) in sets.items():
        runs[title] = Run(labelled_folders(folders), read_of, baseline)
        print(f"\n{title}: {', '.join(map(str, folders))}")
        cascade = not arguments.url and is_cascade(arguments.model)
        print_report(runs[title], name, arguments.min_confidence, model_memory, cascade)
    print_side_by_side(runs, arguments.min_confidence)
    if arguments.json:
        with open(arguments.json, "w") as output:
            json.dump({title: run.table(arguments.min_confidence) for title, run in runs.items()}, output, indent=2)


if __name__ == "__main__":
    main()
