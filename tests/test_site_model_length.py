"""A request naming a site model and no length reads as many digits as the model learnt (its card says), not
OCR_DIGITS."""

import json
import shutil

import numpy as np
import pytest

from captcha_service import create_app
from captcha_service.ocr.confidence import SteadySignals
from captcha_service.ocr.digit_model import MODEL_FILE
from captcha_service.ocr.site_models import CARD_FILE_NAME, CARD_VERSION, MODEL_FILE_NAME, SiteModels, card_length
from tests.captchas import CAPTCHA_FILES, base64_of, label_of

CAPTCHA = next(path for path in CAPTCHA_FILES if path.name.startswith("java_kaptcha"))  # 4 digits


def site_model(models_dir, name, **card):
    """Our general digit model as the site model ``name``, with a card always sure of it and ``card``'s fields."""
    folder = models_dir / name
    folder.mkdir()
    shutil.copyfile(MODEL_FILE, folder / MODEL_FILE_NAME)
    calibration = {"weights": [0.0] * SteadySignals.count(), "bias": 20.0}
    (folder / CARD_FILE_NAME).write_text(
        json.dumps({"card_version": CARD_VERSION, "name": name, "calibration": calibration, **card})
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    models_dir = tmp_path_factory.mktemp("models")
    site_model(models_dir, "six", length=6)
    site_model(models_dir, "older")  # a card written before cards said their length
    site_model(models_dir, "mixed", length=None)  # fine-tuned on captchas of several lengths
    # MIN_CONFIDENCE 0: every reading is answered, so that its length shows
    return create_app({"MODELS_DIR": str(models_dir), "MIN_CONFIDENCE": 0.0, "OCR_DIGITS": 4}).test_client()


def read(client, **options):
    answer = client.post("/ocr", json={"image_base64": base64_of(CAPTCHA), **options})
    assert answer.status_code == 200, answer.json
    return answer.json["digits"]


def test_ocr_reads_the_length_the_named_model_learnt_unless_the_request_says_one(client):
    assert len(read(client, model="six")) == 6
    assert len(read(client, model="six", length=4)) == 4  # the request's length wins
    assert len(client.post("/ocr?model=six&length=5", json={"image_base64": base64_of(CAPTCHA)}).json["digits"]) == 5
    assert len(read(client, model="older")) == len(read(client, model="mixed")) == len(read(client)) == 4  # OCR_DIGITS
    listed = {model["name"]: model for model in client.get("/models").json["models"]}
    assert listed["six"]["length"] == 6 and listed["mixed"]["length"] is None and "length" not in listed["older"]


def test_create_task_and_in_php_read_the_models_length_without_length_hints(client):
    def created(**task):
        answer = client.post(
            "/createTask",
            json={"clientKey": "bot", "task": {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), **task}},
        ).json
        return answer["solution"]["text"]

    assert len(created(model="six")) == 6  # as CapMonster's SDKs send it: no lengths
    assert len(created(model="six", minLength=4, maxLength=4)) == 4
    # a range: the length in it the picture reads likeliest (it shows four digits), not a bound chosen beforehand
    assert created(model="six", minLength=3, maxLength=5) == label_of(CAPTCHA)
    assert len(created(model="older")) == 4

    def submitted(**fields):
        task_id = (
            client.post("/in.php", data={"key": "bot", "method": "base64", "body": base64_of(CAPTCHA), **fields})
            .get_data(as_text=True)
            .split("|")[1]
        )
        return (
            client.get("/res.php", query_string={"key": "bot", "action": "get", "id": task_id})
            .get_data(as_text=True)
            .split("|")[1]
        )

    assert len(submitted(model="six")) == 6
    assert len(submitted(model="six", min_len="4", max_len="4")) == 4


def test_a_protocol_request_naming_no_model_there_is_refused_as_a_bad_parameter(client):
    task = {"type": "ImageToTextTask", "body": base64_of(CAPTCHA), "model": "nosuch"}
    assert (
        client.post("/createTask", json={"clientKey": "bot", "task": task}).json["errorCode"] == "ERROR_BAD_PARAMETERS"
    )
    fields = {"key": "bot", "method": "base64", "body": base64_of(CAPTCHA), "model": "nosuch"}
    assert client.post("/in.php", data=fields).get_data(as_text=True) == "ERROR_BAD_PARAMETERS"


@pytest.mark.parametrize(
    ("card", "length"),
    [
        ({"length": 5}, 5),
        ({}, None),
        ({"length": None}, None),
        ({"length": True}, None),
        ({"length": 9}, None),
        ({"length": "5"}, None),
    ],
)
def test_a_cards_length_is_a_length_we_read_or_none(card, length):
    assert card_length(card) == length


def test_finetune_writes_the_labels_length_when_they_share_one():
    finetune = pytest.importorskip("training.finetune")
    assert finetune.trained_length(["0123", "4567", "8901"]) == 4
    assert finetune.trained_length(["0123", "45678"]) is None


@pytest.mark.slow  # it trains, if for one step
def test_finetune_writes_the_length_in_the_card_and_the_service_reads_it(tmp_path, monkeypatch):
    """A one-step fine-tune on real captchas of 4 digits, with a handful of "rendered" ones (those same captchas): only
    what the card says is looked at here."""
    finetune = pytest.importorskip("training.finetune")
    data = finetune.data
    four_digits = [path for path in CAPTCHA_FILES if len(path.stem.rsplit("_", 1)[-1]) == 4]
    site = tmp_path / "site"
    site.mkdir()
    for index in range(finetune.MIN_IMAGES):
        path = four_digits[index % len(four_digits)]
        shutil.copyfile(path, site / f"{index}_{path.stem.rsplit('_', 1)[-1]}{path.suffix}")

    def build(_first_seed, count, sources=()):
        chosen = [four_digits[index % len(four_digits)] for index in range(count)]
        return np.stack([data.model_pixels(path.read_bytes()) for path in chosen]), [
            path.stem.rsplit("_", 1)[-1] for path in chosen
        ]

    monkeypatch.setattr(finetune.data, "runnable", lambda: ((), {}))
    monkeypatch.setattr(finetune.data, "build", build)
    monkeypatch.setattr(finetune, "REFRESHER_CAPTCHAS", 8)
    monkeypatch.setattr(finetune, "CALIBRATION_CAPTCHAS", 8)
    card = finetune.finetune(
        site, "shop", tmp_path / "models", steps=1, batch=8, force=True, log=lambda *args, **kwargs: None
    )
    assert card["length"] == 4 == json.loads((tmp_path / "models" / "shop" / CARD_FILE_NAME).read_text())["length"]
    assert SiteModels(tmp_path / "models", 1, 3).trained_length("shop") == 4
