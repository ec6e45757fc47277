import subprocess
import sys

import pytest
from flask import Flask

from captcha_service.api.extension import OcrExtension, ocr
from captcha_service.config import Config
from deploy.local_server import ROOT

READ_ONE_CAPTCHA = """
import base64, pathlib
from captcha_service import create_app
image = next(pathlib.Path("tests/fixtures").glob("*.png"))
client = create_app().test_client()
print(client.post("/ocr", json={"image_base64": base64.b64encode(image.read_bytes()).decode()}).status_code)
"""


def test_the_engine_is_stored_once_per_app(app):
    assert ocr.state(app).pipeline.recogniser.model_name == "digits+common"
    with pytest.raises(RuntimeError, match="already registered"):
        ocr.init_app(app)


def test_a_missing_init_app_is_explained():
    bare = Flask(__name__)
    with bare.app_context(), pytest.raises(RuntimeError, match="did you forget to call ocr.init_app"):
        _ = OcrExtension().pipeline


def test_an_unknown_model_is_refused_at_start_up():
    bare = Flask(__name__)
    bare.config.from_object(Config)
    bare.config["OCR_MODEL"] = "common_new"
    with pytest.raises(ValueError, match="unknown OCR model 'common_new'"):
        OcrExtension(bare)


@pytest.mark.parametrize(("level", "warns"), [("2", True), ("3", False)])
def test_ort_logging_level_is_applied(level, warns):
    completed = subprocess.run(
        [sys.executable, "-c", READ_ONE_CAPTCHA],
        cwd=ROOT,
        env={"ORT_LOGGING_LEVEL": level, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.stdout.splitlines()[-1] == "200", completed.stderr  # after the request's log line
    assert ("onnxruntime" in completed.stderr) is warns, completed.stderr


def test_reads_run_on_the_read_slots_threads_whatever_thread_serves_the_request(app):
    """onnxruntime keeps buffers per calling thread: reads must not spread over every server thread."""
    from concurrent.futures import ThreadPoolExecutor

    from captcha_service.config import read_slots
    from tests.captchas import CAPTCHA_FILES, base64_of

    body = {"image_base64": base64_of(CAPTCHA_FILES[0])}

    def post(_):
        return app.test_client().post("/ocr", json=body).status_code

    with ThreadPoolExecutor(8) as requests:
        assert set(requests.map(post, range(24))) <= {200, 422}
    read_threads = ocr.state(app).pool.thread_names
    assert 1 <= len(read_threads) <= read_slots(app.config)
    assert all(name.startswith("read_") for name in read_threads)
