"""Train the digit model on rendered captchas, and export it to ONNX with its card.

    python -m training [--samples N] [--epochs E] [--seed S] [--init MODEL] [--out PATH] [--dry-run]

From scratch, or with ``--init`` from an exported model (a further stage on fresh captchas:
give it another ``--seed``; its card keeps the card of the model it started from).

Renders ``--samples`` captchas (seeded: the same set on every run), trains DigitNet with CTC,
prints loss and speed as it goes and, after each epoch, the accuracy on two held-out rendered
sets and on the labelled folders of ../shared/captchas (validation only: they are never
trained on and never pick an epoch). Then writes the ONNX model and its card.
``--dry-run`` renders a few hundred captchas and trains a few steps (what CI runs).

The two held-out sets: captchas of the run's own sources, and of the renderer's held-out families (font
families and noises no training draws: render.render_captcha). The model written is that of the epoch best by
both (``BEST_BY``), whose weights the checkpoint keeps until the run ends.

Resumable: every few minutes, at each epoch's end, on SIGTERM and when ``--budget-minutes`` is
spent, the whole state of the run is written to ``training/checkpoints/<out's name>.pt`` (a few
MB: commit it when a session ends mid-run). The same command run again carries on from it, on
the same captchas (seeded, kept rendered under ``build/training``) in the same order; the
finished run exports its model and deletes the checkpoint. Progress goes to stdout and to
``build/training/<out's name>.log``.
"""

import argparse
import datetime
import json
import os
import pathlib
import signal
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from captcha_service.ocr.digit_model import MODEL_FILE

from . import data
from .labelled import DEFAULT_ROOT, label_of, labelled_folders
from .memory import keep_freed_heap
from .model import DigitNet
from .onnx_weights import digit_net_from_onnx

SEEDS_PER_RUN = 10**8  # a run of --seed S draws its captchas from seeds S * SEEDS_PER_RUN on
VALIDATION_FIRST_SEED = 10**9  # held-out rendered captchas: seeds no training run uses (--seed 10 is refused)
HELD_OUT_FAMILIES_FIRST_SEED = VALIDATION_FIRST_SEED + 10**7  # and those of the renderer's held-out families
# The held-out figures a run keeps its best epoch by: "does it generalise" is measured as it trains, on captchas of
# families it never saw as well as of those it did (the folders of ../shared/captchas never pick a model).
BEST_BY = ("rendered held-out", "held-out families")
CHECKPOINTS = pathlib.Path(__file__).parent / "checkpoints"
WORK = pathlib.Path("build/training")  # rendered captchas and logs: not committed
CHECKPOINT_EVERY_SECONDS = 300
STOPPED = 75  # the exit status of a run stopped before its end (EX_TEMPFAIL: run it again to carry on)


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
        readings = [
            reading
            for start in range(0, len(labels), batch)
            for reading in greedy_digits(model(as_tensor(pixels[start : start + batch])))
        ]
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
    """Greedy accuracy on each held-out rendered set ({name: (pixels, labels)}) and each folder, and the folders'
    macro."""
    figures = {name: accuracy(model, *captchas) for name, captchas in held_out.items()}
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


class Stopped(Exception):
    """The run stopped before its end (budget spent, or SIGTERM), its state in the checkpoint."""


def epoch_batches(pixels, labels, batch, seed):
    """The batch source of a training run over a fixed set: each epoch's order is drawn from (seed, epoch) alone,
    so a run resumed at any step sees the batches it would have seen."""
    targets = [torch.tensor([int(d) + 1 for d in label]) for label in labels]

    def batch_of(epoch, step):
        chosen = np.random.default_rng((seed, epoch)).permutation(len(labels))[step * batch : (step + 1) * batch]
        return as_tensor(pixels[chosen]), [targets[i] for i in chosen]

    return batch_of


class Run:
    """The one training loop, of the general model (``main``) and of a site's fine-tune (training/finetune.py), and the
    state of it that a checkpoint holds: CTC with AdamW and a one-cycle schedule over ``epochs`` × ``steps_per_epoch``
    batches that a batch source gives (``advance``). ``arguments``: at least learning_rate, epochs and, for the
    schedule's warm-up, warmup (default 0.15).
    """

    def __init__(self, model, arguments, steps_per_epoch):
        self.model, self.arguments = model, arguments
        self.steps_per_epoch = steps_per_epoch
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=arguments["learning_rate"], weight_decay=1e-4)
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimiser,
            max_lr=arguments["learning_rate"],
            total_steps=arguments["epochs"] * steps_per_epoch,
            pct_start=arguments.get("warmup", 0.15),
        )
        self.done, self.running, self.history, self.seconds, self.initial_card = 0, None, [], 0.0, None
        self.best = None  # the weights of the best epoch so far, where the caller keeps them (keep_best)

    def keep_best(self):
        """Keep the weights as they are now as the best so far (in the checkpoint too)."""
        self.best = {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}

    @property
    def total(self):
        return self.arguments["epochs"] * self.steps_per_epoch

    def state(self):
        return {
            "arguments": self.arguments,
            "width": self.model.width,
            "frozen_batch_norms": self.model.frozen_batch_norms,
            "model": self.model.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "schedule": self.schedule.state_dict(),
            "done": self.done,
            "running": self.running,
            "history": self.history,
            "seconds": self.seconds,
            "initial_card": self.initial_card,
            "best": self.best,
            "torch_rng": torch.get_rng_state(),
        }

    @classmethod
    def from_state(cls, state, steps_per_epoch):
        model = DigitNet(state["width"])
        model.frozen_batch_norms = state["frozen_batch_norms"]
        model.load_state_dict(state["model"])
        run = cls(model, state["arguments"], steps_per_epoch)
        run.optimiser.load_state_dict(state["optimiser"])
        run.schedule.load_state_dict(state["schedule"])
        run.done, run.running, run.history = state["done"], state["running"], state["history"]
        run.seconds, run.initial_card, run.best = state["seconds"], state["initial_card"], state["best"]
        torch.set_rng_state(state["torch_rng"])
        return run

    def advance(self, batch_of, log, after_epoch=None, checkpoint=None, budget_seconds=None):
        """From step ``done`` to the end, each step on ``batch_of(epoch, step)`` ((pixels, targets));
        ``after_epoch(epoch)`` validates. With a ``checkpoint`` the state is saved every few minutes and per epoch, and
        ``Stopped`` is raised once ``budget_seconds`` are spent or on a stopping signal, after saving."""
        ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        stop = _StopOnSignals() if checkpoint is not None else None  # without one, Ctrl-C interrupts as ever
        try:
            started, saved = time.perf_counter(), time.perf_counter()
            done_at_start, seconds_at_start = self.done, self.seconds
            self.model.train()
            while self.done < self.total:
                epoch, step = divmod(self.done, self.steps_per_epoch)
                inputs, targets = batch_of(epoch, step)
                loss = training_step(self.model, self.optimiser, self.schedule, ctc, inputs, targets)
                self.running = loss if self.running is None else 0.98 * self.running + 0.02 * loss
                self.done += 1
                self.seconds = seconds_at_start + time.perf_counter() - started
                if self.done % 50 == 0 or self.done % self.steps_per_epoch == 0:
                    rate = (self.done - done_at_start) * len(targets) / (time.perf_counter() - started)
                    left = (self.total - self.done) * len(targets) / rate / 60
                    log(
                        f"epoch {epoch + 1}/{self.arguments['epochs']} step {self.done}/{self.total} "
                        f"loss {self.running:.4f} "
                        f"{rate:.0f} samples/s, {left:.1f} min left"
                    )
                if self.done % self.steps_per_epoch == 0 and after_epoch is not None:
                    after_epoch(self.done // self.steps_per_epoch)
                    self.model.train()
                if checkpoint is None:
                    continue
                spent = budget_seconds is not None and time.perf_counter() - started >= budget_seconds
                if (
                    spent
                    or stop.asked
                    or self.done % self.steps_per_epoch == 0
                    or time.perf_counter() - saved >= CHECKPOINT_EVERY_SECONDS
                ):
                    checkpoint.save(self.state())
                    saved = time.perf_counter()
                if (spent or stop.asked) and self.done < self.total:
                    raise Stopped(
                        f"stopped at step {self.done} of {self.total}; "
                        f"the same command carries on from {checkpoint.path}"
                    )
        finally:
            if stop is not None:
                stop.restore()


class _StopOnSignals:
    """SIGTERM, SIGINT or SIGHUP (a session ending, PM2 stopping, Ctrl-C) asks the loop to save and stop after the
    step under way."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self):
        self.asked = False
        self._previous = {number: signal.signal(number, self._ask) for number in self.SIGNALS}

    def _ask(self, *_):
        self.asked = True

    def restore(self):
        for number, handler in self._previous.items():
            signal.signal(number, handler)


class Checkpoint:
    """A run's state in one file, written whole (temporary file, then renamed over the old one)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def load(self):
        # plain data only: a committed file unpickles no code
        return torch.load(self.path, weights_only=True) if self.path.exists() else None

    def save(self, state):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)

    def remove(self):
        self.path.unlink(missing_ok=True)


def export(model, path):
    """``_export`` to a temporary file renamed over ``path``: a run killed while exporting leaves the old model
    whole."""
    path = pathlib.Path(path)
    partial = path.with_name(path.name + ".partial")
    _export(model, partial)
    os.replace(partial, path)


def _export(model, path):
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
            model,
            (torch.rand(1, 1, 32, 128),),
            str(path),
            input_names=["pixels"],
            output_names=["log_probs"],
            dynamic_axes={"pixels": {0: "batch"}, "log_probs": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def _card_of(model_path):
    card_path = pathlib.Path(model_path).with_suffix(".card.json")
    return json.loads(card_path.read_text()) if card_path.exists() else None


# what a checkpoint must match
RUN_ARGUMENTS = ("samples", "epochs", "batch", "learning_rate", "width", "init", "seed", "leave_out")


def run_arguments(argv):
    """What a run of ``python -m training ARGV`` is, as its checkpoint records it (``RUN_ARGUMENTS``)."""
    arguments = _parser().parse_args(argv)
    return {name: getattr(arguments, name) for name in RUN_ARGUMENTS}


def _parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=160_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--width", type=float, default=0.75, help="channel multiplier of DigitNet")
    parser.add_argument("--init", help="an exported model (.onnx) to train further instead of starting from scratch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--leave-out",
        action="append",
        default=[],
        choices=[name for _, name in data.SOURCES if name != "render"],
        help="a generator not to train on (repeatable): a model for measuring families it never saw",
    )
    parser.add_argument("--validation", default=str(DEFAULT_ROOT), help="labelled folders to report on ('' for none)")
    parser.add_argument("--out", default=str(MODEL_FILE))
    parser.add_argument(
        "--checkpoint",
        help=f"where the run's state is kept (default {CHECKPOINTS.name}/<out's name>.pt beside this file)",
    )
    parser.add_argument("--work", default=str(WORK), help="where rendered captchas and the log are kept")
    parser.add_argument("--budget-minutes", type=float, help="stop (resumably) after this much training")
    parser.add_argument("--dry-run", action="store_true", help="a few hundred captchas, one short epoch: a smoke test")
    return parser


def main(argv=None):
    arguments = _parser().parse_args(argv)
    if arguments.seed * SEEDS_PER_RUN <= VALIDATION_FIRST_SEED < (arguments.seed + 1) * SEEDS_PER_RUN:
        sys.exit(f"--seed {arguments.seed} would train on the held-out captchas (seeds from {VALIDATION_FIRST_SEED})")
    if arguments.dry_run:
        arguments.samples, arguments.epochs, arguments.batch = 256, 1, 32
    out, work = pathlib.Path(arguments.out), pathlib.Path(arguments.work)
    checkpoint = Checkpoint(arguments.checkpoint) if arguments.checkpoint else checkpoint_of(out)
    log = _Log(work / f"{out.stem}.log")
    # a run carries on only over the very captchas it began on: drawn by the same code
    run_arguments = {name: getattr(arguments, name) for name in RUN_ARGUMENTS} | {
        "drawing_code": data.drawing_code_digest()
    }
    state = checkpoint.load()
    if state is not None and state["arguments"] != run_arguments:
        sys.exit(
            f"{checkpoint.path} holds a run of other arguments, or of captchas drawn by other code "
            f"({state['arguments']}): run the same command with the same code to carry it on, or delete it to start "
            "this one"
        )
    keep_freed_heap()
    torch.manual_seed(arguments.seed)
    torch.set_num_threads(2)
    wall = time.perf_counter()

    log(f"rendering {arguments.samples} training captchas (seed {arguments.seed}) ...")
    sources = data.without(arguments.leave_out)
    pixels, labels = data.cached_build(work, arguments.seed * SEEDS_PER_RUN, arguments.samples, sources)
    held_out = {
        # of the run's own sources: a model left without a generator is not chosen by that generator's captchas
        "rendered held-out": data.cached_build(work, VALIDATION_FIRST_SEED, min(2000, arguments.samples), sources),
        "held-out families": data.cached_build(
            work, HELD_OUT_FAMILIES_FIRST_SEED, min(1000, arguments.samples), data.HELD_OUT_FAMILIES
        ),
    }
    folders = (
        labelled_set(arguments.validation)
        if arguments.validation and pathlib.Path(arguments.validation).is_dir()
        else {}
    )
    log(f"ready in {time.perf_counter() - wall:.0f} s; validation folders: {len(folders)}")

    steps_per_epoch = max(1, arguments.samples // arguments.batch)
    if state is not None:
        run = Run.from_state(state, steps_per_epoch)
        log(f"carrying on from {checkpoint.path} at step {run.done} of {run.total}")
    else:
        run = Run(
            digit_net_from_onnx(arguments.init) if arguments.init else DigitNet(arguments.width),
            run_arguments,
            steps_per_epoch,
        )
        run.initial_card = _card_of(arguments.init) if arguments.init else None

    def after_epoch(epoch):
        figures = validate(run.model, held_out, folders)
        run.history.append({"epoch": epoch, **figures})
        log("  validation: " + ", ".join(f"{name} {100 * share:.1f}%" for name, share in figures.items()))
        if _best_epoch(run.history) is run.history[-1]:
            run.keep_best()
            log(f"  the best epoch so far by {' and '.join(BEST_BY)}: kept")

    budget = None if arguments.budget_minutes is None else 60 * arguments.budget_minutes
    try:
        run.advance(
            epoch_batches(pixels, labels, arguments.batch, arguments.seed), log, after_epoch, checkpoint, budget
        )
    except Stopped as stopped:
        log(str(stopped))
        raise SystemExit(STOPPED) from None
    run.model.load_state_dict(run.best)
    export(run.model, out)
    card = {
        "model": "DigitNet (CNN + BiGRU, CTC over blank + 0-9), input 1x32x128 grey",
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "trained": datetime.date.today().isoformat(),
        "command": "python -m training " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": {
            "captchas": arguments.samples,
            "sources": {name: share for share, name in sources},
            "first_seed": arguments.seed * SEEDS_PER_RUN,
        },
        "epochs": arguments.epochs,
        "batch": arguments.batch,
        "learning_rate": arguments.learning_rate,
        "seed": arguments.seed,
        "training_seconds": round(run.seconds),
        "torch": torch.__version__,
        "validation (greedy decoding, every image answered)": _best_epoch(run.history),
        "every epoch": run.history,
    }
    if run.initial_card is not None:  # the card of the model this run started from (read before ours could replace it)
        card["initialised from"] = run.initial_card
    out.with_suffix(".card.json").write_text(json.dumps(card, indent=2) + "\n")
    checkpoint.remove()
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and its card in {time.perf_counter() - wall:.0f} s")


def _best_epoch(history):
    """The epoch of ``history`` best by the mean of its ``BEST_BY`` figures; of equals, the last."""
    return max(reversed(history), key=lambda epoch: np.mean([epoch[name] for name in BEST_BY]))


def checkpoint_of(out):
    """The checkpoint a run writing the model ``out`` keeps, unless told another."""
    return Checkpoint(CHECKPOINTS / f"{pathlib.Path(out).stem}.pt")


class _Log:
    """Each line to stdout and appended to the run's log file."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, line):
        print(line, flush=True)
        with self.path.open("a") as file:
            file.write(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} {line}\n")
