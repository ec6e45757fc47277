"""Fit the confidence calibration of each OCR_MODEL choice on labelled captchas.

    python -m bench.calibrate [FOLDER ...]      (default: ../shared/captchas)

For each choice it prints what a calibration fitted on the *other* folders does on each
held-out folder (leave-one-folder-out: the honest estimate for generators we have never
seen), then the `Calibration(...)` fitted on all folders, to paste into reader.CALIBRATIONS.

Each image is also read with one digit too few and one too many. Those readings are wrong by
construction, and without them the fit never sees the model put a low probability on a reading
its views agree on (a length that does not match the site), and learns to trust agreement alone.
"""

import argparse
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime

from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.reader import CALIBRATIONS, DigitReader

from captcha_service.ocr.labelled import DEFAULT_ROOT, label_of, labelled_folders

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
L2 = 1e-2
OFF_LENGTH_WEIGHT = 0.1


@dataclass
class Readings:
    """One row per reading: its signals, whether it is right, its folder, if its length is the label's."""

    signals: np.ndarray
    right: np.ndarray
    folder_of: np.ndarray
    true_length: np.ndarray

    def where(self, mask):
        return Readings(self.signals[mask], self.right[mask], self.folder_of[mask], self.true_length[mask])

    @property
    def weights(self):
        return np.where(self.true_length, 1.0, OFF_LENGTH_WEIGHT)


def collect(reader, folders, length):
    """Readings of every image at ``length`` and at one digit fewer and one more."""
    rows = []
    for folder, paths in folders.items():
        for path in paths:
            picture = decode_picture(path.read_bytes())
            for asked in (length - 1, length, length + 1):
                evidence = reader.weigh(picture, asked)
                if evidence is not None:
                    rows.append((evidence.signals, evidence.digits == label_of(path), folder, asked == length))
    signals, right, folder_of, true_length = zip(*rows)
    return Readings(np.array(signals), np.array(right, dtype=float), np.array(folder_of), np.array(true_length))


def fit_logistic(readings):
    """Weights and bias of a weighted logistic regression (Newton's method, a little L2), in raw units."""
    signals, right, sample_weights = readings.signals, readings.right, readings.weights
    mean, spread = signals.mean(axis=0), signals.std(axis=0) + 1e-9
    design = np.hstack([(signals - mean) / spread, np.ones((len(signals), 1))])
    coefficients = np.zeros(design.shape[1])
    penalty = L2 * np.diag(np.r_[np.ones(design.shape[1] - 1), 0.0])
    total = sample_weights.sum()
    for _ in range(100):
        predicted = 1.0 / (1.0 + np.exp(-design @ coefficients))
        gradient = design.T @ (sample_weights * (predicted - right)) / total + penalty @ coefficients
        hessian = (design.T * (sample_weights * predicted * (1 - predicted))) @ design / total + penalty
        coefficients -= np.linalg.solve(hessian, gradient)
    weights = coefficients[:-1] / spread
    return weights, coefficients[-1] - float(weights @ mean)


def predict(weights, bias, signals):
    return 1.0 / (1.0 + np.exp(-(signals @ weights + bias)))


def held_out_confidences(readings):
    confidences = np.zeros(len(readings.right))
    for folder in np.unique(readings.folder_of):
        held_out = readings.folder_of == folder
        weights, bias = fit_logistic(readings.where(~held_out))
        confidences[held_out] = predict(weights, bias, readings.signals[held_out])
    return confidences


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", default=[DEFAULT_ROOT])
    parser.add_argument("--model", action="append", choices=sorted(CALIBRATIONS), help="default: every choice")
    parser.add_argument("--length", type=int, default=4)
    arguments = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    folders = labelled_folders(arguments.folders)
    for model in arguments.model or sorted(CALIBRATIONS):
        started = time.perf_counter()
        readings = collect(DigitReader(model, 3), folders, arguments.length)
        held_out = held_out_confidences(readings)
        true_length = readings.true_length
        confidences, right, folder_of = held_out[true_length], readings.right[true_length], readings.folder_of[true_length]
        print(f"\n{model}: {len(readings.right)} readings in {time.perf_counter() - started:.0f} s; leave-one-folder-out, macro over folders:")
        for threshold in THRESHOLDS:
            accepted = confidences >= threshold
            per_folder = [
                (np.mean(accepted[folder_of == folder] & (right[folder_of == folder] == 1)),
                 np.mean(accepted[folder_of == folder] & (right[folder_of == folder] == 0)))
                for folder in folders
            ]
            precision = right[accepted].mean() if accepted.any() else float("nan")
            print(
                f"  min_confidence {threshold:.2f}: right {100 * np.mean([r for r, _ in per_folder]):5.1f}%"
                f"  wrong {100 * np.mean([w for _, w in per_folder]):4.1f}%  right among answered {100 * precision:5.1f}%"
            )
        off_length_passing = (held_out[~true_length] >= 0.9).mean()
        print(f"  readings of the wrong length at or above 0.9: {100 * off_length_passing:.1f}%")
        weights, bias = fit_logistic(readings)
        print(f'    "{model}": Calibration(weights=({", ".join(f"{w:.4f}" for w in weights)}), bias={bias:.4f}),')


if __name__ == "__main__":
    main()
