import base64
import pathlib

import pytest

from live_server import ROOT, free_port, running_server, wait_until_healthy  # noqa: F401 (used by tests)
from captcha_service import create_app

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CAPTCHA_FILES = sorted(path for path in FIXTURES.iterdir() if path.suffix in {".png", ".jpg", ".gif"})


def label_of(path):
    """The digits a fixture shows: the part of its name after the last ``_``."""
    return path.stem.rsplit("_", 1)[1]


def base64_of(path):
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="session")
def app():
    """One app, and so one real model, for the whole test session."""
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
