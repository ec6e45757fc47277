"""``python -m captcha_service read``: the service's engine on files and standard input."""

import subprocess
import sys

from deploy.local_server import ROOT
from tests.captchas import CAPTCHA_FILES, FIXTURES, label_of

GIF = FIXTURES / "java_easycaptcha_gif-0_8985.gif"


def run_cli(*arguments, stdin=b""):
    return subprocess.run(
        [sys.executable, "-m", "captcha_service", "read", *map(str, arguments)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_reads_files_and_standard_input():
    completed = run_cli(CAPTCHA_FILES[0], "-", stdin=GIF.read_bytes())
    assert completed.returncode == 0, completed.stderr
    first, second = completed.stdout.decode().splitlines()
    name, digits, confidence = first.split("\t")
    assert (name, digits) == (str(CAPTCHA_FILES[0]), label_of(CAPTCHA_FILES[0]))
    assert 0.9 <= float(confidence) <= 1.0
    assert second.split("\t")[:2] == ["-", "8985"]


def test_refusals_are_listed_and_fail_the_exit_status(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image")
    completed = run_cli(text_file, tmp_path / "missing.png", CAPTCHA_FILES[0])
    assert completed.returncode == 1
    lines = [line.split("\t") for line in completed.stdout.decode().splitlines()]
    assert lines[0][1:] == ["refused", "not a decodable image: send a PNG, JPEG, GIF, BMP or WebP"]
    assert lines[1][1] == "refused" and "No such file" in lines[1][2]
    assert lines[2][1] == label_of(CAPTCHA_FILES[0])


def test_a_length_outside_the_range_is_a_usage_error():
    completed = run_cli("--length", "12", CAPTCHA_FILES[0])
    assert completed.returncode == 2
    assert b"--length" in completed.stderr
