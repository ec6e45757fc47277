"""The training plans as data: the stages of the shipped digit model, and of the leave-one-family-out models.

    python -m training.stages model        the shipped model (make model): five stages, hours on 2 cores
    python -m training.stages lofo         bench/lofo_models (make lofo-models): about two hours
    python -m training.stages wide         a wider model and its leave-one-family-out twins (not shipped)
    python -m training.stages model --print    the commands, without running them

Each stage is one ``python -m training`` run that starts from the stage before (``--init``).
A stage whose model's card records a run of the same arguments is skipped (and so are the
stages before it, which live in build/ and which a fresh clone does not have), and a stage stopped
half-way carries on from its checkpoint when run again (training/train.py), so the same command
finishes a plan that a session's end interrupted.
"""

import argparse
import json
import os
import pathlib
import shlex
import sys
from dataclasses import dataclass, field

from bench.families import LOFO_MODELS
from captcha_service.ocr.digit_model import MODEL_FILE

from . import data, train

OUTSIDE_GENERATORS = tuple(name for _, name in data.SOURCES if name != "render")


@dataclass(frozen=True)
class Stage:
    out: pathlib.Path
    init: pathlib.Path | None = None
    seed: int = 0
    learning_rate: float = 3e-3
    samples: int = 160_000
    epochs: int = 3
    leave_out: tuple = field(default_factory=tuple)
    width: float | None = None  # DigitNet's channel multiplier, for a stage that starts from scratch

    def done(self):
        """Whether its model is written by a run of these very arguments (its card says), and no run is under way."""
        card = self.out.with_suffix(".card.json")
        if not card.exists() or self.under_way():
            return False
        recorded = json.loads(card.read_text())["command"].split()[3:]  # after "python -m training"
        return train.run_arguments(recorded) == train.run_arguments(self.arguments())

    def under_way(self):
        """Whether a run of it stopped half-way, leaving its checkpoint to carry on from."""
        return train.checkpoint_of(self.out).path.exists()

    def command(self):
        """Its ``python -m training`` command line, as printed and as a card records it."""
        return "python -m training " + shlex.join(self.arguments())

    def arguments(self):
        """The ``python -m training`` arguments of this stage (paths as seen from the repository)."""
        arguments = [
            "--out",
            _shown(self.out),
            "--seed",
            str(self.seed),
            "--learning-rate",
            str(self.learning_rate),
            "--samples",
            str(self.samples),
            "--epochs",
            str(self.epochs),
        ]
        arguments += ["--init", _shown(self.init)] if self.init else []
        arguments += ["--width", str(self.width)] if self.width else []
        return arguments + [argument for source in self.leave_out for argument in ("--leave-out", source)]


def _shown(path):
    path = pathlib.Path(path)
    return os.path.relpath(path) if path.is_absolute() else str(path)


def _stages_of_the_shipped_model():
    build = pathlib.Path("build")
    stage = [build / f"digits-stage{number}.onnx" for number in (1, 2, 3, 4)]
    return [
        Stage(stage[0]),
        Stage(stage[1], init=stage[0], seed=1, learning_rate=1.5e-3),
        Stage(stage[2], init=stage[1], seed=2, learning_rate=1e-3),
        Stage(stage[3], init=stage[2], seed=3, learning_rate=5e-4),
        # The first stage drawn by the broader renderer (large canvases, cut digits, bitmap fonts, ...).
        Stage(MODEL_FILE, init=stage[3], seed=4, learning_rate=5e-4, samples=96_000),
    ]


def _stages_of_the_lofo_models():
    """Each model trained as the shipped one is, on a smaller budget: the earlier renderer first, then a stage of
    the broader one (as the shipped model's fifth), every stage without its family. Only the last stages are
    committed: bench reads those."""
    build = pathlib.Path("build/lofo_models")
    base = build / "renderer-only.onnx"
    plan = [Stage(base, samples=96_000, epochs=2, leave_out=OUTSIDE_GENERATORS)]
    for source in OUTSIDE_GENERATORS:
        earlier = build / f"without-{source}-stage1.onnx"
        plan += [
            Stage(earlier, init=base, seed=1, learning_rate=1.5e-3, samples=48_000, epochs=2, leave_out=(source,)),
            Stage(
                LOFO_MODELS / f"without-{source}.onnx",
                init=earlier,
                seed=2,
                learning_rate=5e-4,
                samples=48_000,
                epochs=2,
                leave_out=(source,),
            ),
        ]
    return plan


def still_to_train(plan):
    """The stages of ``plan`` a run must train, in order: each end product (a model no later stage starts from)
    not done, and the stages it starts from that are not done either. The earlier stages live in build/, which a
    fresh clone has none of: where the end product is done, they need no training, and nor does the model a stage
    under way started from (its committed checkpoint holds all it needs)."""
    wanted = {stage.out for stage in plan} - {stage.init for stage in plan}
    to_train = []
    for stage in reversed(plan):
        if stage.out in wanted and not stage.done():
            to_train.append(stage)
            if not stage.under_way():
                wanted.add(stage.init)
    return to_train[::-1]


def _stages_of_the_wide_model():
    """A wider model (DigitNet width 1.0), trained and measured in the cascade and not shipped (docs/accuracy.md,
    "What was tried"); kept as the start of a stronger model, its base's last stage committed. Four stages on our
    renderer alone, the base; then one stage with the outside generators, and for each generator a twin of that
    stage without it. The twins differ from the model only in the family they leave out, so a calibration fitted
    on their readings (bench.calibrate) is fitted on a model trained as the shipped one is, which the shipped plans'
    smaller leave-one-family-out budget is not."""
    build = pathlib.Path("build/wide")
    # The base's last stage is committed, beside the checkpoints: the stages after it start from it on any clone.
    base = [build / f"wide-stage{number}.onnx" for number in (1, 2, 3)] + [train.CHECKPOINTS / "wide-stage4.onnx"]
    renderer_only = {"samples": 96_000, "leave_out": OUTSIDE_GENERATORS}
    plan = [
        Stage(base[0], seed=6, width=1.0, **renderer_only),
        Stage(base[1], init=base[0], seed=7, learning_rate=1.5e-3, **renderer_only),
        Stage(base[2], init=base[1], seed=8, learning_rate=1e-3, **renderer_only),
        Stage(base[3], init=base[2], seed=9, learning_rate=5e-4, **renderer_only),
    ]
    last = {"init": base[3], "seed": 11, "learning_rate": 5e-4, "samples": 64_000}
    plan.append(Stage(build / "wide.onnx", **last))
    return plan + [
        Stage(build / f"wide-without-{source}.onnx", leave_out=(source,), **last) for source in OUTSIDE_GENERATORS
    ]


PLANS = {
    "model": _stages_of_the_shipped_model,
    "lofo": _stages_of_the_lofo_models,
    "wide": _stages_of_the_wide_model,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plan", choices=sorted(PLANS))
    parser.add_argument("--print", action="store_true", help="print each stage's command instead of running it")
    arguments = parser.parse_args(argv)
    plan = PLANS[arguments.plan]()
    if arguments.print:
        for stage in plan:
            print(stage.command())
        return
    to_train = still_to_train(plan)
    for stage in plan:
        if stage not in to_train:
            print(f"needs no training (done, or only a done model starts from it): {stage.out}", flush=True)
    for stage in to_train:
        print(stage.command(), flush=True)
        train.main(stage.arguments())


if __name__ == "__main__":
    main(sys.argv[1:])
