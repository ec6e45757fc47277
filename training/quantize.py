"""The int8 copy of ddddocr's `common` model that the service runs in its place.

    python -m training.quantize          (make ddddocr-int8)

onnxruntime's dynamic quantization: weights stored as uint8, activations quantized on each run.
The copy reads our folders as the original does (bench/calibrate.py), in about a quarter of the
memory and faster. It is derived, not trained: the same ddddocr release and onnxruntime give the
same bytes, which tests/test_model_files.py checks, with the source file's hash from the card.
"""

import hashlib
import json
import pathlib
import tempfile

import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic

from captcha_service.ocr.ddddocr_model import ONNX_MODELS, ddddocr_folder, ddddocr_version

SOURCE_FILE = "common.onnx"


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def quantized_common(out):
    """Write the int8 copy of ddddocr's installed common.onnx to ``out``."""
    quantize_dynamic(str(ddddocr_folder() / SOURCE_FILE), str(out), weight_type=QuantType.QUInt8)


def main():
    target = ONNX_MODELS["common"].path
    with tempfile.TemporaryDirectory() as scratch:
        made = pathlib.Path(scratch) / target.name
        quantized_common(made)
        target.write_bytes(made.read_bytes())
    card = {
        "model": f"ddddocr {ddddocr_version()}'s {SOURCE_FILE} (MIT licence), weights quantized to uint8",
        "source_sha256": sha256(ddddocr_folder() / SOURCE_FILE),
        "quantized_by": f"onnxruntime {onnxruntime.__version__} quantize_dynamic(weight_type=QUInt8)",
        "sha256": sha256(target),
    }
    target.with_suffix(".card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and its card")


if __name__ == "__main__":
    main()
