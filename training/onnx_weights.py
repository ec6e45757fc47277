"""DigitNet's PyTorch weights read back from its exported ONNX file, so a shipped model can be trained further.

The TorchScript exporter folds each BatchNorm into the convolution before it, and writes the GRU
in ONNX's gate order (z, r, h; PyTorch's is r, z, n). Reading back, each convolution gets the
folded weights and its BatchNorm becomes an exact identity that adds the folded bias, so the
network computes what the ONNX file computes. The model it returns keeps its BatchNorms in eval
mode when trained further (``frozen_batch_norms``): their statistics are the identity, not the
training data's.
"""

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .model import DigitNet


def digit_net_from_onnx(path):
    """A ``DigitNet`` in eval mode that computes what the ONNX file at ``path`` computes."""
    graph = onnx.load(str(path)).graph
    tensors = {initializer.name: numpy_helper.to_array(initializer) for initializer in graph.initializer}
    by_node = {node.op_type: [] for node in graph.node}
    for node in graph.node:
        by_node[node.op_type].append([tensors.get(name) for name in node.input])
    first_convolution = by_node["Conv"][0][1]
    model = DigitNet(width=first_convolution.shape[0] / DigitNet.BASE_CHANNELS[0]).eval()
    model.frozen_batch_norms = True
    modules = [module for module in model.features if isinstance(module, nn.Conv2d | nn.BatchNorm2d)]
    for (convolution, batch_norm), (_, weight, bias) in zip(zip(modules[::2], modules[1::2]), by_node["Conv"]):
        convolution.weight.data = torch.from_numpy(weight.copy())
        batch_norm.weight.data.fill_(1.0)
        batch_norm.bias.data = torch.from_numpy(bias.copy())
        batch_norm.running_mean.zero_()
        batch_norm.running_var.fill_(1.0 - batch_norm.eps)  # (x - 0) / sqrt(var + eps) == x
    ((_, inputs, recurrent, biases, *_),) = by_node["GRU"]
    hidden = inputs.shape[1] // 3
    for direction, suffix in enumerate(("", "_reverse")):
        for name, value in (
            ("weight_ih_l0", inputs[direction]),
            ("weight_hh_l0", recurrent[direction]),
            ("bias_ih_l0", biases[direction][: 3 * hidden]),
            ("bias_hh_l0", biases[direction][3 * hidden :]),
        ):
            getattr(model.sequence, name + suffix).data = torch.from_numpy(_pytorch_gate_order(value, hidden))
    ((_, matrix),) = by_node["MatMul"]
    model.classify.weight.data = torch.from_numpy(matrix.T.copy())
    model.classify.bias.data = torch.from_numpy(tensors["classify.bias"].copy())
    return model


def _pytorch_gate_order(value, hidden):
    """ONNX's z, r, h blocks as PyTorch's r, z, n."""
    return np.concatenate([value[hidden : 2 * hidden], value[:hidden], value[2 * hidden :]]).copy()
