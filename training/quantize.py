"""The int8 copy of ddddocr's `common` model that the service runs in its place.

    python -m training.quantize          (make ddddocr-int8)

Its convolutions are quantized statically: int8 weights per channel, and activations in ranges
measured on views of captchas from our own renderer (onnxruntime's calibration; no captcha of
the validation folders). The first convolution, which sees the raw pixels, stays in float: it is
cheap, and quantizing it cost the most accuracy. Then the LSTM and the final projection onto
ddddocr's thousands of classes get int8 weights with activations quantized on each run (dynamic).
Static convolutions run much faster on onnxruntime's CPU kernels than dynamic ones
(ConvInteger), and signed int8 weights speed up the projection. The copy reads our folders
about as the original does (README, Accuracy), in a quarter of its memory and well under half
its time. It is derived, not trained: the same ddddocr release, renderer and onnxruntime give
the same copy, which tests/test_model_files.py checks, with the source file's hash from the card.
"""

import hashlib
import json
import pathlib
import random
import tempfile

import onnx
import onnxruntime
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from captcha_service.ocr.ddddocr_model import ONNX_MODELS, ddddocr_folder, ddddocr_version, model_input
from captcha_service.ocr.images import decode_picture
from captcha_service.ocr.rendering import STRETCHES, renderings, trim_margins

from .render import render_captcha

SOURCE_FILE = "common.onnx"
CALIBRATION_CAPTCHAS = 120  # rendered from seeds 0, 1, ...; each read in every view the service reads
OPSET = 13  # per-channel quantization needs it; ddddocr ships opset 12
FLOAT_NODES = ["Conv_0"]  # the first convolution, on the raw pixels


class RenderedViews(CalibrationDataReader):
    """The model's inputs for every view of our renderer's first ``count`` captchas."""

    def __init__(self, count):
        self._seeds = iter(range(count))
        self._pending = []

    def get_next(self):
        while not self._pending:
            seed = next(self._seeds, None)
            if seed is None:
                return None
            picture = trim_margins(decode_picture(render_captcha(random.Random(seed), held_out=None).data))
            self._pending = [model_input(view) for view in renderings(picture, STRETCHES)]
        return {"input1": self._pending.pop()}


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def quantized_common(out, calibration_captchas=CALIBRATION_CAPTCHAS):
    """Write the int8 copy of ddddocr's installed common.onnx to ``out``."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        onnx.save(
            version_converter.convert_version(onnx.load(ddddocr_folder() / SOURCE_FILE), OPSET), scratch / "source.onnx"
        )
        quant_pre_process(str(scratch / "source.onnx"), str(scratch / "prepared.onnx"), skip_symbolic_shape=True)
        quantize_static(
            str(scratch / "prepared.onnx"),
            str(scratch / "convolutions.onnx"),
            RenderedViews(calibration_captchas),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=FLOAT_NODES,
        )
        quantize_dynamic(
            str(scratch / "convolutions.onnx"),
            str(out),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "LSTM"],
        )


def main():
    target = ONNX_MODELS["common"].path
    with tempfile.TemporaryDirectory() as scratch:
        made = pathlib.Path(scratch) / target.name
        quantized_common(made)
        target.write_bytes(made.read_bytes())
    card = {
        "model": f"ddddocr {ddddocr_version()}'s {SOURCE_FILE} (MIT licence), quantized to int8",
        "source_sha256": sha256(ddddocr_folder() / SOURCE_FILE),
        "quantized_by": (
            f"onnxruntime {onnxruntime.__version__}: convolutions but {', '.join(FLOAT_NODES)} static (QOperator, "
            f"per channel, int8 weights, uint8 activations calibrated on {CALIBRATION_CAPTCHAS} captchas of "
            "training/render.py, seeds from 0, every view); MatMul and LSTM dynamic (int8 weights)"
        ),
        "sha256": sha256(target),
    }
    target.with_suffix(".card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and its card")


if __name__ == "__main__":
    main()
