"""The reading core (captcha_service.ocr) stands without the HTTP layer."""

import subprocess
import sys

from tests.live_server import ROOT

HTTP_LAYER = ("flask", "werkzeug", "flasgger", "marshmallow", "waitress", "prometheus_client")
IMPORT_THE_CORE = """
import importlib, pkgutil, sys
import captcha_service.ocr as core
for module in pkgutil.iter_modules(core.__path__):
    importlib.import_module(f"captcha_service.ocr.{module.name}")
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_reading_core_imports_nothing_of_the_http_layer():
    completed = subprocess.run([sys.executable, "-c", IMPORT_THE_CORE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    loaded = set(completed.stdout.split())
    assert "onnxruntime" in loaded and "captcha_service" in loaded  # the core was really imported
    assert loaded.isdisjoint(HTTP_LAYER), loaded & set(HTTP_LAYER)
