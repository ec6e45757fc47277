"""The layers stay apart: the reading core (captcha_service.ocr) stands without the HTTP layer and its
settings, the service without training, benchmarks or tests, and the benchmarks without tests."""

import subprocess
import sys

from deploy.local_server import ROOT

HTTP_LAYER = ("flask", "werkzeug", "flasgger", "marshmallow", "waitress", "prometheus_client")
IMPORT_THE_CORE = """
import importlib, pkgutil, sys
import captcha_service.ocr as core
for module in pkgutil.iter_modules(core.__path__):
    importlib.import_module(f"captcha_service.ocr.{module.name}")
print(" ".join(sorted({name.split(".")[0] for name in sys.modules} | \
{name for name in sys.modules if name.startswith("captcha_service")})))
"""
IMPORT_THE_SERVICE = """
import importlib, pkgutil, sys
import captcha_service
for module in pkgutil.walk_packages(captcha_service.__path__, "captcha_service."):
    importlib.import_module(module.name)
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""
NEVER_IN_THE_SERVICE = ("torch", "training", "bench", "tests")
IMPORT_THE_BENCHMARKS = IMPORT_THE_SERVICE.replace("captcha_service", "bench")


def imported_by(program):
    completed = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return set(completed.stdout.split())


def test_the_reading_core_imports_nothing_of_the_http_layer():
    loaded = imported_by(IMPORT_THE_CORE)
    assert "onnxruntime" in loaded and "captcha_service.ocr.recogniser" in loaded  # the core was really imported
    assert loaded.isdisjoint(HTTP_LAYER), loaded & set(HTTP_LAYER)
    assert "captcha_service.config" not in loaded  # the core takes its settings as arguments


def test_the_service_imports_no_training_benchmark_or_test_code():
    loaded = imported_by(IMPORT_THE_SERVICE)
    assert {"flask", "onnxruntime", "captcha_service"} <= loaded  # every module of the service was imported
    assert loaded.isdisjoint(NEVER_IN_THE_SERVICE), loaded & set(NEVER_IN_THE_SERVICE)


def test_the_benchmarks_import_no_test_code():
    loaded = imported_by(IMPORT_THE_BENCHMARKS)
    assert {"bench", "captcha_service", "deploy"} <= loaded
    assert "tests" not in loaded
