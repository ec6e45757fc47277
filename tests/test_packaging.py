"""``pip install .`` gives a package that serves, reads and fine-tunes on its own: models, templates,
the training code and the console script included."""

import base64
import os
import subprocess
import sys

import pytest
import requests

from deploy.local_server import ROOT, free_port, wait_until_healthy
from tests.captchas import CAPTCHA_FILES, label_of


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package as pip installs it, in a folder of its own (its dependencies are this virtualenv's)."""
    target = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def console_script(installed, *arguments, environment=None, **options):
    """``captcha-ocr ARGUMENTS`` of the installed package, run outside the repository."""
    return subprocess.run(
        [str(installed / "bin" / "captcha-ocr"), *arguments],
        cwd=installed.parent,
        env={**os.environ, "PYTHONPATH": str(installed), **(environment or {})},
        capture_output=True,
        text=True,
        **options,
    )


def test_the_installed_package_reads_with_its_console_script(installed):
    assert (installed / "captcha_service" / "ocr" / "models" / "digits.onnx").is_file()
    assert (installed / "captcha_service" / "ocr" / "models" / "calibrations.json").is_file()
    image = CAPTCHA_FILES[0]
    completed = console_script(installed, "read", "--min-confidence", "0", str(image), timeout=120)
    assert completed.returncode == 0, completed.stderr
    name, digits, _confidence = completed.stdout.strip().split("\t")
    assert (name, digits) == (str(image), label_of(image))


def test_the_installed_package_serves(installed):
    port = free_port()
    server = subprocess.Popen(
        [str(installed / "bin" / "captcha-ocr"), "serve"],
        cwd=installed.parent,
        env={**os.environ, "PYTHONPATH": str(installed), "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}/", still_running=lambda: server.poll() is None)
        image = CAPTCHA_FILES[0]
        answer = requests.post(
            f"http://127.0.0.1:{port}/ocr",
            json={"image_base64": base64.b64encode(image.read_bytes()).decode()},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.json()["digits"] == label_of(image)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"captcha-ocr: listening on http://127.0.0.1:{port}" in output


def test_an_installed_finetune_without_the_training_extra_says_what_to_install(installed, tmp_path):
    (tmp_path / "torch").mkdir()
    # as if not installed
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
    )
    completed = console_script(
        installed,
        "finetune",
        str(tmp_path),
        "--name",
        "site",
        environment={"PYTHONPATH": f"{tmp_path}:{installed}"},
        timeout=120,
    )
    assert completed.returncode == 2
    assert (
        "finetune needs the training requirements (torch is missing): pip install 'captcha-service[train]'"
        in completed.stderr
    )


def test_the_installed_package_holds_the_training_code_a_finetune_runs(installed):
    assert (installed / "training" / "finetune.py").is_file() and (installed / "training" / "gregwar.php").is_file()
