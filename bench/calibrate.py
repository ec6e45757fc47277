"""Fit the confidence calibration of each OCR_MODEL choice on labelled captchas of families the models never saw.

    python -m bench.calibrate [FOLDER ...] [--model M ...] [--seen] [--write] [--no-view-weight-sweep]
                              (default: ../shared/captchas, every choice)

Leave-one-family-out (bench/families.py): each folder whose generator our model trained on is
read by a model trained without that generator, every other folder by the shipped model; with
``--seen``, the shipped model reads every folder (the signals of families it knows, for
comparison). For each calibration it prints what a calibration fitted on the *other* folders
does on each held-out folder, then the calibration fitted on all folders; ``--write`` writes
those into captcha_service/ocr/models/calibrations.json, which the service reads. For a cascade
(digits+common) that is each of
its stages, and then the cascade as the service runs it, with its stages' held-out calibrations:
right and wrong at each threshold, how often our model answers alone and how often ddddocr's
first view is enough, over a sweep of each stage's threshold; and over a sweep of VIEW_WEIGHT
(how much ddddocr's views count in the joint reading), with the weight each held-out folder
would get if it were chosen on the other folders.

Each image is also read with one digit too few and one too many. Those readings are wrong by
construction, and without them the fit never sees the model put a low probability on a reading
its views agree on (a length that does not match the site), and learns to trust agreement alone.
"""

import argparse
import json
import os
import pathlib
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime

from captcha_service.ocr.confidence import VIEW_WEIGHT, fit_calibration
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.recogniser import (
    CALIBRATIONS_FILE,
    DIGIT_MODEL,
    OCR_MODELS,
    SURE_ALONE,
    SURE_CONFIRMED,
    SURE_FIRST_VIEW,
    DecidedBy,
    Recogniser,
    calibration_signals,
    first_view_reads,
    is_cascade,
)
from training.labelled import DEFAULT_ROOT, label_of, labelled_folders

from .families import unseeing_model

THRESHOLDS = (0.0, 0.5, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
# What one wrong answer costs against one refusal, to choose MIN_CONFIDENCE: a wrong answer is a failed
# login (and often a blocked account), a refusal one paid solve. The threshold of least cost over the
# held-out families is the default's choice.
WRONG_COST = 10
SURE_SWEEP = (0.9, 0.92, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 1.01)  # 1.01: never
VIEW_WEIGHT_SWEEP = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)
OFF_LENGTH_WEIGHT = 0.1
REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
FAILED = float("nan")


@dataclass
class Readings:
    """One row per reading of one calibration: its signals, whether it is right, its folder, image and asked length,
    and whether ddddocr's first view reads the same digits (what lets our model's sure reading stand alone)."""

    signals: np.ndarray
    right: np.ndarray
    folder_of: np.ndarray
    image_of: np.ndarray
    true_length: np.ndarray
    confirmed: np.ndarray

    def where(self, mask):
        return Readings(
            *(
                column[mask]
                for column in (
                    self.signals,
                    self.right,
                    self.folder_of,
                    self.image_of,
                    self.true_length,
                    self.confirmed,
                )
            )
        )

    @property
    def weights(self):
        return np.where(self.true_length, 1.0, OFF_LENGTH_WEIGHT)


def read_all(model_name, folders, seen=False):
    """(a Recogniser of ``model_name``, [(folder, label, the models' probabilities)] of every image): each model
    runs once per image, each folder read by the digit model that never saw its family (unless ``seen``). The
    picture is prepared as the service prepares it when asked for the label's length (``Recogniser.prepared``), and
    that same picture is read at one digit fewer and more: asked for those, a large canvas might be windowed
    otherwise (none of ../shared/captchas is tall enough to be)."""
    recognisers, read = {}, []
    for folder, paths in folders.items():
        digit_model_file = MODEL_FILE if seen or DIGIT_MODEL not in model_name.split("+") else unseeing_model(folder)
        if digit_model_file not in recognisers:
            recognisers[digit_model_file] = Recogniser(model_name, 3, digit_model_file=digit_model_file)
        recogniser = recognisers[digit_model_file]
        for path in paths:
            label = label_of(path)
            prepared = recogniser.prepared(decode_picture(path.read_bytes()), len(label))
            read.append((folder, label, recogniser.probabilities(*prepared)))
    return recogniser, read


def unseen_readings(model_name, folders, length):
    """{calibration name: Readings} of ``model_name``'s ways of reading, leave-one-family-out (``read_all``)."""
    recogniser, read = read_all(model_name, folders)
    return collect(recogniser, read, length)


def calibrations_without(readings, folder):
    """{calibration name: Calibration} fitted on every folder of ``readings`` but ``folder``."""
    return {
        name: fit_calibration(found.signals[~held_out], found.right[~held_out], found.weights[~held_out])
        for name, found in readings.items()
        for held_out in [found.folder_of == folder]
    }


def collect(recogniser, read, length, view_weight=VIEW_WEIGHT):
    """{calibration name: Readings} of every image read (``read_all``) at ``length`` and at one digit fewer and
    one more."""
    rows = {}
    for image, (folder, label, probabilities) in enumerate(read):
        first_view = None if probabilities[1] is None else probabilities[1][: recogniser.ddddocr.runs_per_view]
        for asked, by_name in recogniser.evidence_by_choice(
            probabilities, (length - 1, length, length + 1), view_weight
        ).items():
            for name, evidence in by_name.items():
                if evidence is not None:
                    confirmed = first_view is None or first_view_reads(first_view, evidence.digits, asked)
                    rows.setdefault(name, []).append(
                        (evidence.signals.values(), evidence.digits == label, folder, image, asked == length, confirmed)
                    )
    return {
        name: Readings(
            *(np.array(column, dtype=float if index == 1 else None) for index, column in enumerate(zip(*found)))
        )
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
    """Macro right/wrong at each threshold of {image: (confidence, right)} (absent = no reading), and the threshold
    of least cost (a wrong answer WRONG_COST refusals)."""
    print(title)
    rates = macro_rates(answers, folder_of_image, folders, THRESHOLDS)
    for threshold, (right, wrong) in zip(THRESHOLDS, rates):
        cost = WRONG_COST * wrong + (1 - right - wrong)
        print(
            f"  min_confidence {threshold:.2f}: right {100 * right:5.1f}%  wrong {100 * wrong:4.2f}%  "
            f"cost {100 * cost:5.1f} refusals per 100"
        )
    cheapest = min(zip(THRESHOLDS, rates), key=lambda row: WRONG_COST * row[1][1] + (1 - sum(row[1])))[0]
    print(f"  least cost, a wrong answer counted as {WRONG_COST} refusals: min_confidence {cheapest}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=[DEFAULT_ROOT])
    parser.add_argument("--model", action="append", choices=sorted(OCR_MODELS), help="default: every choice")
    parser.add_argument("--length", type=int, default=4)
    parser.add_argument(
        "--seen", action="store_true", help="the shipped model reads every folder, families it trained on too"
    )
    parser.add_argument(
        "--write", action="store_true", help=f"write the calibrations fitted on all folders to {CALIBRATIONS_FILE.name}"
    )
    parser.add_argument(
        "--no-view-weight-sweep",
        action="store_true",
        help="skip the sweep of VIEW_WEIGHT (each weight reads everything again)",
    )
    arguments = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    folders = labelled_folders(arguments.folders)
    folder_of_image = dict(enumerate(folder for folder, paths in folders.items() for _ in paths))
    fitted = {}
    for model in arguments.model or sorted(OCR_MODELS):
        if model in fitted:
            continue
        started = time.perf_counter()
        recogniser, read = read_all(model, folders, arguments.seen)
        for name, readings in collect(recogniser, read, arguments.length).items():
            held_out = held_out_confidences(readings)
            fitted[name] = (readings, held_out)
            report(
                f"\n{name}: {len(readings.right)} readings in {time.perf_counter() - started:.0f} s; "
                "leave-one-folder-out, macro over folders:",
                by_image(readings, held_out),
                folder_of_image,
                folders,
            )
            off_length = held_out[~readings.true_length] >= 0.9
            print(f"  readings of the wrong length at or above 0.9: {100 * off_length.mean():.1f}%")
            weights, bias = fit_logistic(readings)
            print(f"  fitted on every folder: weights ({', '.join(f'{w:.4f}' for w in weights)}), bias {bias:.4f}")
        if is_cascade(model):
            first_view = DecidedBy(model, first_view_only=True).name
            cascade(fitted[DIGIT_MODEL], fitted[first_view], fitted[model], folder_of_image, folders)
            if not arguments.no_view_weight_sweep:
                view_weight_sweep(recogniser, read, arguments.length, fitted[DIGIT_MODEL], folder_of_image, folders)
    if arguments.write:
        write_calibrations(fitted, arguments)


def write_calibrations(fitted, arguments):
    """calibrations.json of the calibrations fitted on every folder, with what they were fitted on."""
    missing = sorted({name for model in OCR_MODELS for name in calibration_signals(model)} - set(fitted))
    if missing:
        raise SystemExit(f"not written: {missing} were not fitted (run without --model to fit every choice)")
    protocol = (
        "the shipped digit model on every folder" if arguments.seen else "leave-one-family-out (bench/families.py)"
    )
    document = {
        "about": "The calibration of each way of reading (each OCR_MODEL choice, and each cascade's middle stage "
        "':view1'): "
        "logistic weights of its signals. Written by python -m bench.calibrate --write; refit whenever the models, "
        "the views, the signals or VIEW_WEIGHT change.",
        "fitted on": f"{', '.join(os.path.relpath(folder, REPOSITORY) for folder in arguments.folders)}; {protocol}",
        "calibrations": {},
    }
    for name in sorted(fitted):
        calibration = fit_calibration(fitted[name][0].signals, fitted[name][0].right, fitted[name][0].weights)
        document["calibrations"][name] = {
            "weights": [round(w, 4) for w in calibration.weights],
            "bias": round(calibration.bias, 4),
        }
    CALIBRATIONS_FILE.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {CALIBRATIONS_FILE}")


def cascade_answers(stages, folder_of_image, folders, sure_alone=SURE_ALONE, sure_first_view=SURE_FIRST_VIEW):
    """The cascade's answers ({image: (confidence, right)}) given each stage's, and per folder the
    share answered by each of the first two stages: our model's answer when it is sure alone, or
    sure enough and confirmed by ddddocr's first view (``alone_stage``), else the joint one of
    ddddocr's first view when that is sure, else the joint one of every view."""
    sizes = {folder: sum(name == folder for name in folder_of_image.values()) for folder in folders}
    answers, decided = {}, {folder: [0, 0] for folder in folders}
    for image, folder in folder_of_image.items():
        if image in stages[0] and _stands(*stages[0][image], sure_alone):
            answers[image] = stages[0][image][:2]
            decided[folder][0] += 1
        elif image in stages[1] and stages[1][image][0] >= sure_first_view:
            answers[image] = stages[1][image]
            decided[folder][1] += 1
        else:
            if image in stages[2]:
                answers[image] = stages[2][image]
    return answers, {folder: [count / sizes[folder] for count in counts] for folder, counts in decided.items()}


def _stands(confidence, _right, confirmed, sure_alone):
    """Whether our model's reading is the cascade's answer: sure alone, or sure enough and ddddocr's first view
    reads the same."""
    return confidence >= sure_alone or (confirmed and confidence >= SURE_CONFIRMED)


def alone_stage(alone):
    """{image: (held-out confidence, right, whether ddddocr's first view reads the same)} of our model's
    true-length readings."""
    readings, confidences = alone
    mask = readings.true_length
    return dict(
        zip(
            readings.image_of[mask].tolist(),
            zip(confidences[mask].tolist(), readings.right[mask].tolist(), readings.confirmed[mask].tolist()),
        )
    )


def cascade(alone, first_view, joint, folder_of_image, folders):
    """The cascade with held-out calibrations, over sweeps of its two thresholds and as configured."""
    stages = [alone_stage(alone), by_image(*first_view), by_image(*joint)]

    def answers_at(sure_alone, sure_first_view):
        return cascade_answers(stages, folder_of_image, folders, sure_alone, sure_first_view)

    def sweep(title, thresholds):
        print(f"\ncascade, leave-one-folder-out, {title} (macro over folders):")
        for sure_alone, sure_first_view in thresholds:
            answers, shares = answers_at(sure_alone, sure_first_view)
            alone_share, first_view_share = np.mean(list(shares.values()), axis=0)
            rates = zip((0.0, 0.9), macro_rates(answers, folder_of_image, folders, (0.0, 0.9)))
            print(
                f"  alone at {sure_alone:.3f}, first view at {sure_first_view:.3f}: "
                f"answered alone {100 * alone_share:5.1f}%, "
                f"after the first view {100 * first_view_share:5.1f}%  "
                + "  ".join(f"right/wrong at {threshold}: {100 * r:5.1f}/{100 * w:3.1f}" for threshold, (r, w) in rates)
            )

    sweep(
        f"by how sure our model must be to answer alone (first view at {SURE_FIRST_VIEW})",
        [(sure, SURE_FIRST_VIEW) for sure in SURE_SWEEP],
    )
    sweep(
        f"by how sure the first view must make it (alone at {SURE_ALONE})", [(SURE_ALONE, sure) for sure in SURE_SWEEP]
    )
    answers, shares = answers_at(SURE_ALONE, SURE_FIRST_VIEW)
    configured = f"SURE_ALONE {SURE_ALONE}, SURE_CONFIRMED {SURE_CONFIRMED}, SURE_FIRST_VIEW {SURE_FIRST_VIEW}"
    report(f"cascade as configured ({configured}), leave-one-folder-out:", answers, folder_of_image, folders)
    print(
        "  answered alone / after the first view: "
        + ", ".join(f"{folder} {100 * alone:.0f}/{100 * first:.0f}%" for folder, (alone, first) in shares.items())
    )
    report(
        "every captcha through both models, every view (no cascade), leave-one-folder-out:",
        stages[2],
        folder_of_image,
        folders,
    )


def view_weight_sweep(recogniser, read, length, alone, folder_of_image, folders):
    """The cascade as configured, with each stage's held-out calibration, at each weight of ddddocr's
    views in the joint reading; and VIEW_WEIGHT's choice tested as it is made: for each folder, the
    weight with the most right answers (no threshold: the weight decides which reading wins, the
    calibration how sure it is) on the *other* folders, measured on that folder."""
    print(
        "\ncascade as configured, leave-one-folder-out, by the weight of ddddocr's views in the joint reading "
        f"(VIEW_WEIGHT {VIEW_WEIGHT}):"
    )
    alone_answers = alone_stage(alone)
    joint_stages = (DecidedBy(recogniser.model_name, first_view_only=True).name, recogniser.model_name)
    per_folder = {}  # {weight: {folder: (right with no threshold, right at 0.9, wrong at 0.9)}}
    for weight in VIEW_WEIGHT_SWEEP:
        readings = collect(recogniser, read, length, weight)
        stages = [alone_answers] + [
            by_image(readings[name], held_out_confidences(readings[name])) for name in joint_stages
        ]
        answers, _ = cascade_answers(stages, folder_of_image, folders)
        for folder in folders:
            (right_anyway, _), (right, wrong) = macro_rates(answers, folder_of_image, [folder], (0.0, 0.9))
            per_folder.setdefault(weight, {})[folder] = (right_anyway, right, wrong)
        no_threshold, right, wrong = np.mean(list(per_folder[weight].values()), axis=0)
        print(
            f"  view weight {weight:.2f}: right with no threshold {100 * no_threshold:5.2f}%, "
            f"at 0.9 right {100 * right:5.2f}% wrong {100 * wrong:4.2f}%"
        )
    chosen = {
        folder: max(
            VIEW_WEIGHT_SWEEP,
            key=lambda weight: (
                np.mean([per_folder[weight][other][0] for other in folders if other != folder]),
                weight,
            ),
        )
        for folder in folders
    }
    no_threshold, right, wrong = np.mean([per_folder[chosen[folder]][folder] for folder in folders], axis=0)
    print("  chosen on the other folders: " + ", ".join(f"{folder} {weight}" for folder, weight in chosen.items()))
    print(
        f"  so chosen, on each held-out folder: right with no threshold {100 * no_threshold:5.2f}%, "
        f"at 0.9 right {100 * right:5.2f}% wrong {100 * wrong:4.2f}%"
    )


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
