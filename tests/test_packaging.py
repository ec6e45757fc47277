"""``pip install .`` gives a package that reads on its own: models, templates and the console script included."""

import os
import subprocess
import sys

from deploy.local_server import ROOT
from tests.captchas import CAPTCHA_FILES, label_of


def test_the_installed_package_reads_with_its_console_script(tmp_path):
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--target", str(target), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )
    assert (target / "captcha_service" / "ocr" / "models" / "digits.onnx").is_file()
    image = CAPTCHA_FILES[0]
    completed = subprocess.run(
        [str(target / "bin" / "captcha-ocr"), "read", "--min-confidence", "0", str(image)],
        cwd=tmp_path,  # not the repository: the installed package is read
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    name, digits, _confidence = completed.stdout.strip().split("\t")
    assert (name, digits) == (str(image), label_of(image))
