import pytest

from captcha_service import config, create_app
from captcha_service.config import settings_from_environment


def test_environment_overrides_are_typed_like_their_defaults():
    settings = settings_from_environment({"PORT": "9001", "OCR_MODEL": "common", "PATH": "/bin"})
    assert settings == {"PORT": 9001, "OCR_MODEL": "common"}


def test_a_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="PORT='eighty'"):
        settings_from_environment({"PORT": "eighty"})


def test_test_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("OCR_DIGITS", "5")
    monkeypatch.setenv("THREADS", "7")
    app = create_app({"OCR_DIGITS": 6})
    assert app.config["OCR_DIGITS"] == 6
    assert app.config["THREADS"] == 7


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("false", False), ("no", False)]
)
def test_a_boolean_setting_reads_the_words_not_pythons_truth(monkeypatch, text, value):
    monkeypatch.setattr(config.Config, "FLAG", False, raising=False)
    assert settings_from_environment({"FLAG": text}) == {"FLAG": value}


def test_a_boolean_setting_that_is_no_word_names_the_variable(monkeypatch):
    monkeypatch.setattr(config.Config, "FLAG", False, raising=False)
    with pytest.raises(ValueError, match="FLAG='maybe' is not a valid bool"):
        settings_from_environment({"FLAG": "maybe"})
