"""Train the digit model on rendered captchas, and export it to ONNX with its card.

    python -m training [--samples N] [--epochs E] [--seed S] [--init MODEL] [--out PATH] [--dry-run]

From scratch, or with ``--init`` from an exported model (a further stage on fresh captchas:
give it another ``--seed``; its card keeps the card of the model it started from).

Renders ``--samples`` captchas (seeded: the same set on every run), trains DigitNet with CTC,
prints loss and speed as it goes and, after each epoch, the accuracy on a held-out rendered
set and on the labelled folders of ../shared/captchas (validation only: they are never
trained on and never pick a checkpoint). Then writes the ONNX model and its card.
``--dry-run`` renders a few hundred captchas and trains a few steps (what CI runs).
"""

import argparse
import datetime
import json
import pathlib
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from captcha_service.memory import keep_freed_heap
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.labelled import DEFAULT_ROOT, label_of, labelled_folders

from . import data
from .model import DigitNet
from .onnx_weights import digit_net_from_onnx

VALIDATION_FIRST_SEED = 10**9  # held-out rendered captchas: seeds no training run uses


def greedy_digits(log_probs):
    """Best path per sample: argmax per step, repeats merged, blanks dropped."""
    readings = []
    for path in log_probs.argmax(dim=2).tolist():
        digits, previous = [], 0
        for label in path:
            if label != previous and label != 0:
                digits.append(str(label - 1))
            previous = label
        readings.append("".join(digits))
    return readings


def as_tensor(pixels):
    return torch.from_numpy(pixels).float().div_(255.0).unsqueeze(1)


def accuracy(model, pixels, labels, batch=256):
    model.eval()
    with torch.no_grad():
        readings = [reading for start in range(0, len(labels), batch) for reading in greedy_digits(model(as_tensor(pixels[start : start + batch])))]
    model.train()
    return float(np.mean([reading == label for reading, label in zip(readings, labels)]))


def labelled_set(root):
    """{folder: (pixels, labels)} of the validation folders, read as the service reads them."""
    folders = {}
    for folder, paths in labelled_folders([root]).items():
        pixels = np.stack([data.model_pixels(path.read_bytes()) for path in paths])
        folders[folder] = (pixels, [label_of(path) for path in paths])
    return folders


def validate(model, held_out, folders):
    figures = {"rendered held-out": accuracy(model, *held_out)}
    for folder, (pixels, labels) in folders.items():
        figures[folder] = accuracy(model, pixels, labels)
    if folders:
        figures["folders macro"] = float(np.mean([figures[folder] for folder in folders]))
    return figures


def training_step(model, optimiser, schedule, ctc, pixels, batch_targets):
    """One CTC step on a batch of pixels and their targets (digit + 1 per position); the loss."""
    log_probs = model(pixels)
    loss = ctc(
        log_probs.permute(1, 0, 2),
        torch.cat(batch_targets),
        torch.full((len(batch_targets),), log_probs.shape[1], dtype=torch.long),
        torch.tensor([len(t) for t in batch_targets]),
    )
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimiser.step()
    schedule.step()
    return loss.item()


def train(model, pixels, labels, epochs, batch, learning_rate, seed, after_epoch):
    """CTC training with AdamW and a one-cycle schedule; ``after_epoch(epoch)`` validates."""
    generator = np.random.default_rng(seed)
    targets = [torch.tensor([int(d) + 1 for d in label]) for label in labels]
    steps_per_epoch = max(1, len(labels) // batch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=learning_rate, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    started, running = time.perf_counter(), None
    for epoch in range(1, epochs + 1):
        order = generator.permutation(len(labels))
        for step in range(steps_per_epoch):
            chosen = order[step * batch : (step + 1) * batch]
            loss = training_step(model, optimiser, schedule, ctc, as_tensor(pixels[chosen]), [targets[i] for i in chosen])
            running = loss if running is None else 0.98 * running + 0.02 * loss
            done = (epoch - 1) * steps_per_epoch + step + 1
            if done % 50 == 0 or step == steps_per_epoch - 1:
                elapsed = time.perf_counter() - started
                total = epochs * steps_per_epoch
                bar = "#" * int(30 * done / total)
                print(
                    f"\repoch {epoch}/{epochs} [{bar:30s}] step {done}/{total} loss {running:.4f} "
                    f"{done * batch / elapsed:.0f} samples/s, {elapsed / done * (total - done) / 60:.1f} min left",
                    end="", flush=True,
                )
        print()
        after_epoch(epoch)
    return time.perf_counter() - started


def export(model, path):
    """ONNX with a dynamic batch; onnxruntime runs it without PyTorch.

    The TorchScript exporter (``dynamo=False``): it needs only the ``onnx`` package, and it
    exports the GRU as one ONNX GRU node. PyTorch warns that it is the legacy exporter, and
    that a GRU exported at batch 1 may not run other batch sizes (tests/test_training.py runs
    the file onnxruntime loads).
    """
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation and tracer warnings about PyTorch's own code, and the GRU's
        torch.onnx.export(
            model, (torch.rand(1, 1, 32, 128),), str(path),
            input_names=["pixels"], output_names=["log_probs"],
            dynamic_axes={"pixels": {0: "batch"}, "log_probs": {0: "batch"}},
            opset_version=17, dynamo=False,
        )


def _card_of(model_path):
    card_path = pathlib.Path(model_path).with_suffix(".card.json")
    return json.loads(card_path.read_text()) if card_path.exists() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=160_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--width", type=float, default=0.75, help="channel multiplier of DigitNet")
    parser.add_argument("--init", help="an exported model (.onnx) to train further instead of starting from scratch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--leave-out", action="append", default=[], choices=[name for _, name in data.SOURCES if name != "render"],
                        help="a generator not to train on (repeatable): a model for measuring families it never saw")
    parser.add_argument("--validation", default=str(DEFAULT_ROOT), help="labelled folders to report on ('' for none)")
    parser.add_argument("--out", default=str(MODEL_FILE))
    parser.add_argument("--dry-run", action="store_true", help="a few hundred captchas, one short epoch: a smoke test")
    arguments = parser.parse_args(argv)
    if arguments.dry_run:
        arguments.samples, arguments.epochs, arguments.batch = 256, 1, 32
    keep_freed_heap()
    torch.manual_seed(arguments.seed)
    torch.set_num_threads(2)
    wall = time.perf_counter()

    print(f"rendering {arguments.samples} training captchas (seed {arguments.seed}) ...", flush=True)
    sources = data.without(arguments.leave_out)
    pixels, labels = data.build(arguments.seed * 10**8, arguments.samples, sources=sources)
    held_out = data.build(VALIDATION_FIRST_SEED, min(2000, arguments.samples))
    folders = labelled_set(arguments.validation) if arguments.validation and pathlib.Path(arguments.validation).is_dir() else {}
    print(f"rendered in {time.perf_counter() - wall:.0f} s; validation folders: {len(folders)}", flush=True)

    model = digit_net_from_onnx(arguments.init) if arguments.init else DigitNet(arguments.width)
    history = []

    def after_epoch(epoch):
        figures = validate(model, held_out, folders)
        history.append({"epoch": epoch, **figures})
        print("  validation: " + ", ".join(f"{name} {100 * share:.1f}%" for name, share in figures.items()), flush=True)

    seconds = train(model, pixels, labels, arguments.epochs, arguments.batch, arguments.learning_rate, arguments.seed, after_epoch)
    out = pathlib.Path(arguments.out)
    initial_card = _card_of(arguments.init) if arguments.init else None
    export(model, out)
    card = {
        "model": "DigitNet (CNN + BiGRU, CTC over blank + 0-9), input 1x32x128 grey",
        "parameters": sum(p.numel() for p in model.parameters()),
        "trained": datetime.date.today().isoformat(),
        "command": "python -m training " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": {
            "captchas": arguments.samples,
            "sources": {name: share for share, name in sources},
            "first_seed": arguments.seed * 10**8,
        },
        "epochs": arguments.epochs, "batch": arguments.batch, "learning_rate": arguments.learning_rate,
        "seed": arguments.seed, "training_seconds": round(seconds), "total_seconds": round(time.perf_counter() - wall),
        "torch": torch.__version__,
        "validation (greedy decoding, every image answered)": history[-1],
    }
    if arguments.init:  # the card of the model this run started from (written before ours replaces it)
        card["initialised from"] = initial_card
    out.with_suffix(".card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and its card in {time.perf_counter() - wall:.0f} s", flush=True)
