"""The service under real PM2, from eco.config.js: it starts, and comes back when killed."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from deploy import wait_ready
from deploy.local_server import ROOT, free_port, wait_until_healthy

PM2 = ROOT / "node_modules" / ".bin" / "pm2"
APP_NAME = "captcha-ocr"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture
def pm2(tmp_path):
    """Run pm2 with its own PM2_HOME and a free port; kill its daemon afterwards."""
    assert PM2.exists(), "pm2 is not installed here: `make test` installs it from package.json"
    port = free_port()
    environment = {
        **os.environ,
        "PM2_HOME": str(tmp_path / "pm2"),
        "PORT": str(port),
        "CAPTCHA_OCR_PYTHON": sys.executable,
    }

    def run(*arguments):
        completed = subprocess.run(
            [str(PM2), *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    run.url = f"http://127.0.0.1:{port}/"
    run.environment = environment
    try:
        yield run
    finally:
        subprocess.run([str(PM2), "kill"], env=environment, capture_output=True, timeout=60)


def app_process(pm2):
    """(pid, restarts) of the app as PM2 reports them."""
    (app,) = [entry for entry in json.loads(pm2("jlist")) if entry["name"] == APP_NAME]
    return app["pid"], app["pm2_env"]["restart_time"]


def test_pm2_serves_and_restarts_a_killed_service(pm2):
    pm2("start", "eco.config.js")
    wait_until_healthy(pm2.url)
    first_pid, restarts = app_process(pm2)
    assert first_pid and restarts == 0

    os.kill(first_pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while app_process(pm2)[0] in (first_pid, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    second_pid, restarts = app_process(pm2)
    assert second_pid not in (first_pid, 0) and restarts == 1
    wait_until_healthy(pm2.url)

    pm2("delete", "eco.config.js")
    assert json.loads(pm2("jlist")) == []


def test_pm2_start_returns_once_the_service_answers(pm2):
    """What `make pm2-start` runs: pm2 start, then deploy/wait_ready.py; nginx started next finds it up."""
    pm2("start", "eco.config.js")
    waited = subprocess.run(
        [sys.executable, "-m", "deploy.wait_ready"],
        cwd=ROOT,
        env=pm2.environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert waited.returncode == 0 and waited.stdout.strip() == f"ready: {pm2.url}", waited.stderr
    with urllib.request.urlopen(pm2.url, timeout=5) as answer:  # at once, no polling
        assert answer.status == 200


def test_wait_ready_names_the_port_that_never_answered(monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    monkeypatch.setattr(wait_ready, "TIMEOUT_SECONDS", 0.5)
    with pytest.raises(SystemExit, match=f"127.0.0.1:{port}/ did not answer 200"):
        wait_ready.main()
