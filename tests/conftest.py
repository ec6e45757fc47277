import base64
import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest
import requests

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


ROOT = FIXTURES.parent.parent


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url, timeout=60, still_running=lambda: True):
    """Poll ``GET url`` until it answers 200; fail if the server dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert still_running(), f"the server behind {url} exited before answering"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


@contextlib.contextmanager
def running_server(log_path, **settings):
    """``python wsgi.py`` on a free loopback port with ``settings`` in its environment; yields (url, port)."""
    port = free_port()
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **{name: str(value) for name, value in settings.items()}}
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "wsgi.py"], cwd=ROOT, env=environment, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url + "/", still_running=lambda: process.poll() is None)
            yield url, port
        finally:
            process.terminate()
            process.wait(timeout=30)
