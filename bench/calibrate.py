"""Fit the confidence calibration of each OCR_MODEL choice on labelled captchas.

    python -m bench.calibrate [FOLDER ...] [--model M ...]      (default: ../shared/captchas, every choice)

For each calibration it prints what a calibration fitted on the *other* folders does on each
held-out folder (leave-one-folder-out: the honest estimate for generators we have never
seen), then the `Calibration(...)` fitted on all folders, to paste into
captcha_service/ocr/recogniser.py's CALIBRATIONS. For a cascade (digits+common) that is each of
its stages, and then the cascade as the service runs it, with its stages' held-out calibrations:
right and wrong at each threshold, how often our model answers alone and how often ddddocr's
first view is enough, over a sweep of each stage's threshold.

Each image is also read with one digit too few and one too many. Those readings are wrong by
construction, and without them the fit never sees the model put a low probability on a reading
its views agree on (a length that does not match the site), and learns to trust agreement alone.
"""

import argparse
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime

from captcha_service.ocr.confidence import fit_calibration
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.labelled import DEFAULT_ROOT, label_of, labelled_folders
from captcha_service.ocr.recogniser import DIGIT_MODEL, FIRST_VIEW, OCR_MODELS, SURE_ALONE, SURE_FIRST_VIEW, Recogniser
from captcha_service.ocr.rendering import trim_margins

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
SURE_SWEEP = (0.9, 0.92, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 1.01)  # 1.01: never
OFF_LENGTH_WEIGHT = 0.1
FAILED = float("nan")


@dataclass
class Readings:
    """One row per reading of one calibration: its signals, whether it is right, its folder, image and asked length."""

    signals: np.ndarray
    right: np.ndarray
    folder_of: np.ndarray
    image_of: np.ndarray
    true_length: np.ndarray

    def where(self, mask):
        return Readings(self.signals[mask], self.right[mask], self.folder_of[mask], self.image_of[mask], self.true_length[mask])

    @property
    def weights(self):
        return np.where(self.true_length, 1.0, OFF_LENGTH_WEIGHT)


def collect(recogniser, folders, length):
    """{calibration name: Readings} of every image at ``length`` and at one digit fewer and one more."""
    rows = {}
    image = 0
    for folder, paths in folders.items():
        for path in paths:
            trimmed = trim_margins(decode_picture(path.read_bytes()))
            for asked, by_name in recogniser.evidence_by_choice(trimmed, (length - 1, length, length + 1)).items():
                for name, evidence in by_name.items():
                    if evidence is not None:
                        rows.setdefault(name, []).append((evidence.signals, evidence.digits == label_of(path), folder, image, asked == length))
            image += 1
    return {
        name: Readings(*(np.array(column, dtype=float if index == 1 else None) for index, column in enumerate(zip(*found))))
        for name, found in rows.items()
    }


def fit_logistic(readings):
    """Weights and bias fitted on ``readings`` (off-length readings weigh less)."""
    calibration = fit_calibration(readings.signals, readings.right, readings.weights)
    return np.array(calibration.weights), calibration.bias


def predict(weights, bias, signals):
    return 1.0 / (1.0 + np.exp(-np.clip(signals @ weights + bias, -700, 700)))


def held_out_confidences(readings):
    confidences = np.zeros(len(readings.right))
    for folder in np.unique(readings.folder_of):
        held_out = readings.folder_of == folder
        weights, bias = fit_logistic(readings.where(~held_out))
        confidences[held_out] = predict(weights, bias, readings.signals[held_out])
    return confidences


def by_image(readings, confidences):
    """{image: (confidence, right)} of the true-length readings."""
    mask = readings.true_length
    return dict(zip(readings.image_of[mask].tolist(), zip(confidences[mask].tolist(), readings.right[mask].tolist())))


def report(title, answers, folder_of_image, folders):
    """Macro right/wrong at each threshold of {image: (confidence, right)} (absent = no reading)."""
    print(title)
    for threshold, (right, wrong) in zip(THRESHOLDS, macro_rates(answers, folder_of_image, folders, THRESHOLDS)):
        print(f"  min_confidence {threshold:.2f}: right {100 * right:5.1f}%  wrong {100 * wrong:4.1f}%")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=[DEFAULT_ROOT])
    parser.add_argument("--model", action="append", choices=sorted(OCR_MODELS), help="default: every choice")
    parser.add_argument("--length", type=int, default=4)
    arguments = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    folders = labelled_folders(arguments.folders)
    folder_of_image = dict(enumerate(folder for folder, paths in folders.items() for _ in paths))
    fitted = {}
    for model in arguments.model or sorted(OCR_MODELS):
        if model in fitted:
            continue
        started = time.perf_counter()
        for name, readings in collect(Recogniser(model, 3), folders, arguments.length).items():
            held_out = held_out_confidences(readings)
            fitted[name] = (readings, held_out)
            report(f"\n{name}: {len(readings.right)} readings in {time.perf_counter() - started:.0f} s; leave-one-folder-out, macro over folders:",
                   by_image(readings, held_out), folder_of_image, folders)
            off_length = held_out[~readings.true_length] >= 0.9
            print(f"  readings of the wrong length at or above 0.9: {100 * off_length.mean():.1f}%")
            weights, bias = fit_logistic(readings)
            print(f'    "{name}": Calibration(weights=({", ".join(f"{w:.4f}" for w in weights)}), bias={bias:.4f}),')
        if DIGIT_MODEL in model and "+" in model:
            cascade(fitted[DIGIT_MODEL], fitted[model + FIRST_VIEW], fitted[model], folder_of_image, folders)


def cascade(alone, first_view, joint, folder_of_image, folders):
    """The cascade with held-out calibrations: our model's answer when it is sure alone, else the
    joint one of ddddocr's first view when that is sure, else the joint one of every view."""
    stages = [by_image(*readings) for readings in (alone, first_view, joint)]
    sizes = {folder: sum(name == folder for name in folder_of_image.values()) for folder in folders}

    def answers_at(sure_alone, sure_first_view):
        """The answers, and per folder the share answered by each of the first two stages."""
        answers, decided = {}, {folder: [0, 0] for folder in folders}
        for image, folder in folder_of_image.items():
            for stage, sure in enumerate((sure_alone, sure_first_view)):
                if image in stages[stage] and stages[stage][image][0] >= sure:
                    answers[image] = stages[stage][image]
                    decided[folder][stage] += 1
                    break
            else:
                if image in stages[2]:
                    answers[image] = stages[2][image]
        return answers, {folder: [count / sizes[folder] for count in counts] for folder, counts in decided.items()}

    def sweep(title, thresholds):
        print(f"\ncascade, leave-one-folder-out, {title} (macro over folders):")
        for sure_alone, sure_first_view in thresholds:
            answers, shares = answers_at(sure_alone, sure_first_view)
            alone_share, first_view_share = np.mean(list(shares.values()), axis=0)
            rates = zip((0.0, 0.9), macro_rates(answers, folder_of_image, folders, (0.0, 0.9)))
            print(f"  alone at {sure_alone:.3f}, first view at {sure_first_view:.3f}: answered alone {100 * alone_share:5.1f}%, "
                  f"after the first view {100 * first_view_share:5.1f}%  "
                  + "  ".join(f"right/wrong at {threshold}: {100 * r:5.1f}/{100 * w:3.1f}" for threshold, (r, w) in rates))

    sweep(f"by how sure our model must be to answer alone (first view at {SURE_FIRST_VIEW})", [(sure, SURE_FIRST_VIEW) for sure in SURE_SWEEP])
    sweep(f"by how sure the first view must make it (alone at {SURE_ALONE})", [(SURE_ALONE, sure) for sure in SURE_SWEEP])
    answers, shares = answers_at(SURE_ALONE, SURE_FIRST_VIEW)
    report(f"cascade as configured (SURE_ALONE {SURE_ALONE}, SURE_FIRST_VIEW {SURE_FIRST_VIEW}), leave-one-folder-out:", answers, folder_of_image, folders)
    print("  answered alone / after the first view: "
          + ", ".join(f"{folder} {100 * alone:.0f}/{100 * first:.0f}%" for folder, (alone, first) in shares.items()))
    report("every captcha through both models, every view (no cascade), leave-one-folder-out:", stages[2], folder_of_image, folders)


def macro_rates(answers, folder_of_image, folders, thresholds):
    """[(right, wrong)] macro over folders at each threshold."""
    rates = []
    for threshold in thresholds:
        per_folder = []
        for folder in folders:
            images = [image for image, name in folder_of_image.items() if name == folder]
            accepted = [answers[image][1] for image in images if image in answers and answers[image][0] >= threshold]
            per_folder.append((sum(accepted) / len(images), (len(accepted) - sum(accepted)) / len(images)))
        rates.append(tuple(np.mean(per_folder, axis=0)))
    return rates


if __name__ == "__main__":
    main()
