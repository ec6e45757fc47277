"""The training code on a tiny budget: render, train a few steps, export, load in the engine, read."""

import dataclasses
import json
import pickle
import random

import numpy as np
import onnxruntime
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from bench.families import LOFO_MODELS, TRAINED_ON
from bench.fresh_draws import LENGTH, fresh_draws
from captcha_service.ocr.confidence import digit_evidence
from captcha_service.ocr.digit_model import INPUT_HEIGHT, INPUT_WIDTH, MODEL_FILE, DigitModel
from captcha_service.ocr.exceptions import UnreadableInput
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.reasons import Reason
from captcha_service.ocr.recogniser import session_options
from captcha_service.ocr.rendering import trim_margins
from tests.captchas import CAPTCHA_FILES
from training import data, generators, stages, train
from training.fonts import digit_fonts
from training.onnx_weights import digit_net_from_onnx
from training.render import LENGTH_WEIGHTS, legible, render_captcha


def test_a_seed_renders_the_same_captcha_every_time():
    first, again = render_captcha(random.Random(7)), render_captcha(random.Random(7))
    assert (first.digits, first.data) == (again.digits, again.data)
    assert render_captcha(random.Random(8)).data != first.data


def test_rendered_captchas_vary_and_decode_as_the_service_decodes():
    captchas = [data.captcha_of_seed(seed) for seed in range(120)]
    assert {len(captcha.digits) for captcha in captchas} == set(LENGTH_WEIGHTS)
    assert {captcha.format for captcha in captchas} >= {"PNG", "JPEG", "GIF"}
    sizes = {decode_picture(captcha.data).size for captcha in captchas}
    widths, heights = [width for width, _ in sizes], [height for _, height in sizes]
    assert min(widths) < 100 < 250 < max(widths) and min(heights) < 35 < 80 < max(heights)
    assert data.model_pixels(captchas[0].data).shape == (INPUT_HEIGHT, INPUT_WIDTH)


def digit_layer(size, ink, font_size):
    """One digit '8' on a transparent canvas, as the renderer's layers are."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (10, 2), "8", font=ImageFont.truetype(str(digit_fonts()[0]), font_size), fill=ink + (255,)
    )
    return layer


def finished(layer, background, cover=None):
    """The layer on a plain background, then ``cover(draw)`` drawn over it, as noise is."""
    frame = Image.new("RGBA", layer.size, background + (255,))
    frame.alpha_composite(layer)
    frame = frame.convert("RGB")
    if cover:
        cover(ImageDraw.Draw(frame))
    return frame


def test_only_captchas_a_person_could_read_are_kept():
    dark, light, white = (20, 20, 20), (200, 200, 200), (255, 255, 255)
    clear = digit_layer((60, 50), dark, 40)
    assert legible([clear], finished(clear, white))
    assert not legible([clear], finished(clear, (45, 45, 45)))  # ink the background's grey
    tiny = digit_layer((60, 50), dark, 7)
    assert not legible([tiny], finished(tiny, white))  # a few pixels high
    hidden = finished(clear, white, lambda draw: draw.rectangle((0, 0, 60, 32), fill=white))
    assert not legible([clear], hidden)  # most strokes painted over in the background's colour
    assert legible([clear], finished(clear, light))
    dotted = finished(
        clear, light, lambda draw: [draw.point((x, y), fill=dark) for x in range(60) for y in range(50) if (x + y) % 2]
    )
    assert not legible([clear], dotted)  # lost in dots of its own colour


def test_the_renderer_draws_with_many_installed_fonts():
    assert (
        len(digit_fonts()) >= 100
    )  # `make training-packages` installs the Debian packages of training/debian-packages.txt


def dry_run(tmp_path, *arguments):
    """``python -m training --dry-run`` with its checkpoint and rendered captchas kept in ``tmp_path``."""
    train.main(
        [
            "--dry-run",
            "--validation",
            "",
            "--checkpoint",
            str(tmp_path / "run.pt"),
            "--work",
            str(tmp_path / "work"),
            *arguments,
        ]
    )


def test_a_dry_run_trains_exports_and_the_engine_reads_with_the_result(tmp_path):
    out = tmp_path / "digits.onnx"
    dry_run(tmp_path, "--out", str(out))
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["data"]["captchas"] == 256 and card["parameters"] > 100_000
    validation = card["validation (greedy decoding, every image answered)"]
    assert {"rendered held-out", "held-out families"} <= set(validation) and card["every epoch"] == [validation]
    model = DigitModel(session_options(3, 1), path=out)
    probabilities = model.probabilities(trim_margins(decode_picture(CAPTCHA_FILES[0].read_bytes())))
    assert probabilities.shape == (INPUT_WIDTH // 4, 11)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    evidence = digit_evidence(probabilities, 4)
    assert evidence is None or (len(evidence.digits) == 4 and evidence.digits.isdigit())
    blank = model.probabilities(Image.new("L", (160, 60), 255))
    assert blank.shape == probabilities.shape
    # and PyTorch reads the exported weights back, computing what onnxruntime computes
    pixels = np.random.default_rng(0).random((3, 1, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float32)
    with torch.no_grad():
        read_back = digit_net_from_onnx(out)(torch.from_numpy(pixels)).numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    exported = np.concatenate([session.run(None, {"pixels": pixels[i : i + 1]})[0] for i in range(3)])
    assert np.abs(read_back - exported).max() < 1e-4
    # a further stage starts from the exported file, its BatchNorms (folded identities) frozen
    trained_further = digit_net_from_onnx(out).train()
    norms = [module for module in trained_further.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    assert norms and not any(norm.training for norm in norms) and trained_further.dropout.training
    further = tmp_path / "further.onnx"
    dry_run(tmp_path, "--seed", "1", "--init", str(out), "--out", str(further))
    assert json.loads(further.with_suffix(".card.json").read_text())["initialised from"] == card
    assert further.read_bytes() != out.read_bytes()


def test_a_stopped_run_carries_on_from_its_checkpoint_to_the_model_an_unbroken_run_makes(tmp_path, monkeypatch):
    unbroken, resumed = tmp_path / "unbroken.onnx", tmp_path / "resumed.onnx"
    dry_run(tmp_path / "a", "--out", str(unbroken))
    with pytest.raises(SystemExit) as stopped:
        dry_run(tmp_path / "b", "--out", str(resumed), "--budget-minutes", "0")  # stops after its first step
    assert stopped.value.code == train.STOPPED and (tmp_path / "b" / "run.pt").exists() and not resumed.exists()
    with pytest.raises(SystemExit, match="other arguments"):
        dry_run(tmp_path / "b", "--out", str(resumed), "--seed", "5")
    with monkeypatch.context() as patched:  # the renderer changed since: its captchas would not be the run's
        patched.setattr(data, "drawing_code_digest", lambda: "0123456789")
        with pytest.raises(SystemExit, match="drawn by other code"):
            dry_run(tmp_path / "b", "--out", str(resumed))
    dry_run(tmp_path / "b", "--out", str(resumed))
    assert not (tmp_path / "b" / "run.pt").exists()  # a finished run needs no checkpoint
    pixels = np.random.default_rng(1).random((2, 1, INPUT_HEIGHT, INPUT_WIDTH), dtype=np.float32)
    outputs = [
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"pixels": pixels})[0]
        for path in (unbroken, resumed)
    ]
    assert np.allclose(*outputs, atol=1e-5)
    assert "carrying on from" in (tmp_path / "b" / "work" / "resumed.log").read_text()


@pytest.mark.parametrize("generator", [generators.gregwar_captcha, generators.django_captcha])
def test_a_line_service_generator_draws_a_reproducible_captcha_of_the_digits_asked(generator):
    first, again = (generator(random.Random(3), "40718") for _ in range(2))
    assert first.data == again.data and first.digits == "40718"
    assert decode_picture(first.data).size[0] >= 60


def test_a_model_can_be_trained_without_named_generators():
    sources = data.without(["captcha", "wheezy", "gregwar", "django"])
    assert [name for _, name in sources] == ["render"]
    for seed in range(20):
        rng = random.Random(seed)
        rng.random()  # what choosing the source draws
        assert data.captcha_of_seed(seed, sources).data == render_captcha(rng).data
    generator_source = data.without(["captcha", "wheezy", "gregwar"])
    assert "django" in [name for _, name in generator_source]
    with pytest.raises(ValueError, match="no such sources"):
        data.without(["securimage"])


def test_the_leave_one_family_out_models_are_trained_without_the_generator_of_their_folder():
    assert sorted(TRAINED_ON.values()) == sorted(name for _, name in data.SOURCES if name != "render")
    for source in TRAINED_ON.values():
        card = json.loads((LOFO_MODELS / f"without-{source}.card.json").read_text())
        assert source not in card["data"]["sources"] and source not in card["initialised from"]["data"]["sources"]


def test_a_generator_that_cannot_run_is_named_and_left_out(monkeypatch):
    generators.stop_line_services()  # those an earlier test started
    monkeypatch.setitem(
        generators.LINE_SERVICES, "django", (["false"], {})
    )  # a django-simple-captcha that is not installed
    usable, missing = data.runnable()
    assert [name for _, name in usable] == ["render", "captcha", "wheezy", "gregwar"]
    assert "the django generator (false) exited" in missing["django"]
    with pytest.raises(generators.GeneratorStopped):
        data.sample(0, ((1.0, "django"),))
    generators.stop_line_services()


def test_a_plan_trains_the_earlier_stages_only_for_an_end_product_not_yet_done(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "CHECKPOINTS", tmp_path / "checkpoints")
    first = stages.Stage(tmp_path / "first.onnx")
    plan = [first, stages.Stage(tmp_path / "end.onnx", init=first.out, seed=1)]
    assert stages.still_to_train(plan) == plan  # nothing trained yet
    end_card = {"command": plan[1].command()}
    (tmp_path / "end.card.json").write_text(json.dumps(end_card))
    assert stages.still_to_train(plan) == []  # the end product is done: its earlier stage is not needed
    end_card["command"] += " --samples 10"  # ... unless it was trained by other arguments
    (tmp_path / "end.card.json").write_text(json.dumps(end_card))
    assert stages.still_to_train(plan) == plan
    train.checkpoint_of(plan[1].out).path.parent.mkdir()
    train.checkpoint_of(plan[1].out).path.write_bytes(b"")  # the end product's run stopped half-way ...
    assert stages.still_to_train(plan) == [plan[1]]  # ... and carries on without the stage it started from


def test_a_render_worker_that_fails_stops_the_build_at_once_with_its_error():
    with pytest.raises(KeyError):
        data.build(0, 8, processes=1, sources=((1.0, "no-such-generator"),))
    refusal = pickle.loads(pickle.dumps(UnreadableInput("not a decodable image", Reason.NOT_AN_IMAGE, size=3)))
    assert (refusal.detail, refusal.reason, refusal.extra) == (
        "not a decodable image",
        Reason.NOT_AN_IMAGE,
        {"size": 3},
    )  # so it reaches the parent


def test_the_plans_are_data_and_the_committed_models_are_what_their_plan_trains(capsys):
    lofo = stages.PLANS["lofo"]()
    shipped = stages.PLANS["model"]()
    # each committed model's card records a run of its stage's arguments: nothing is left to train
    assert stages.still_to_train(lofo) == []
    ends = [stage for stage in lofo if stage.out.parent == LOFO_MODELS]
    bench_reads = [f"without-{source}.onnx" for source in sorted(TRAINED_ON.values())]
    assert sorted(stage.out.name for stage in ends) == bench_reads
    assert all(stage.leave_out == (stage.out.stem.removeprefix("without-"),) for stage in ends)
    assert shipped[-1].out == MODEL_FILE and [stage.init for stage in shipped[1:]] == [
        stage.out for stage in shipped[:-1]
    ]
    stages.main(["model", "--print"])
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(shipped) and all(line.startswith("python -m training --out ") for line in printed)


def test_the_wide_plan_s_leave_one_family_out_twins_differ_from_its_model_only_in_the_family_left_out():
    plan = stages.PLANS["wide"]()
    base, ends = plan[:4], plan[4:]
    assert all(set(stage.leave_out) == set(stages.OUTSIDE_GENERATORS) for stage in base)  # our renderer alone
    model, *twins = ends
    assert model.leave_out == () and sorted(twin.leave_out for twin in twins) == [
        (source,) for source in sorted(TRAINED_ON.values())
    ]
    assert {dataclasses.replace(twin, out=model.out, leave_out=()) for twin in twins} == {model}
    assert len({stage.out.stem for stage in plan + stages.PLANS["model"]() + stages.PLANS["lofo"]()}) == len(
        plan
    ) + len(stages.PLANS["model"]()) + len(stages.PLANS["lofo"]())  # each keeps its own checkpoint and log


def test_a_run_whose_captchas_would_be_the_held_out_ones_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="held-out"):
        train.main(
            [
                "--dry-run",
                "--seed",
                str(train.VALIDATION_FIRST_SEED // train.SEEDS_PER_RUN),
                "--out",
                str(tmp_path / "m.onnx"),
            ]
        )


def test_a_run_keeps_its_epoch_best_on_the_held_out_captchas_of_both_kinds():
    history = [
        {"epoch": 1, "rendered held-out": 0.5, "held-out families": 0.4, "captcha_py": 0.9},
        {"epoch": 2, "rendered held-out": 0.6, "held-out families": 0.5, "captcha_py": 0.8},
        {"epoch": 3, "rendered held-out": 0.7, "held-out families": 0.3, "captcha_py": 1.0},
        {"epoch": 4, "rendered held-out": 0.5, "held-out families": 0.6, "captcha_py": 0.7},
    ]
    assert train._best_epoch(history)["epoch"] == 4  # equal to epoch 2 by the mean; the later one
    assert train._best_epoch(history[:3])["epoch"] == 2  # the folders of ../shared/captchas pick nothing


def test_fresh_draws_are_each_trained_generators_own_and_the_same_every_time(tmp_path):
    drawn, again = fresh_draws(2, tmp_path / "a"), fresh_draws(2, tmp_path / "b")
    folders = sorted(folder.name for folder in drawn.iterdir())
    assert folders == sorted(TRAINED_ON)
    for folder in folders:
        images = sorted((drawn / folder).iterdir())
        assert [image.name.split("_")[0] for image in images] == ["0", "1"]
        assert all(len(image.stem.split("_")[1]) == LENGTH and decode_picture(image.read_bytes()) for image in images)
        assert [image.read_bytes() for image in images] == [
            image.read_bytes() for image in sorted((again / folder).iterdir())
        ]
