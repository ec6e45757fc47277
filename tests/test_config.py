import pytest

from captcha_service import create_app
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
