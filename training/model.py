"""The digit recogniser: a small CNN and a bidirectional GRU, CTC over blank + 0-9."""

from torch import nn

CLASSES = 11  # CTC blank, then '0'..'9'


def _block(inputs, outputs, pool):
    layers = [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(pool))
    return layers


class DigitNet(nn.Module):
    """(N, 1, 32, 128) grey pixels in [0, 1] -> (N, 32, 11) log-probabilities, one step per 4 px.

    Each picture is standardised inside the network (its own mean and spread), so the
    exported model needs nothing but the pixels, and contrast and polarity vary freely.
    """

    BASE_CHANNELS = (32, 64, 96, 128)  # at width 1.0

    def __init__(self, width=1.0):
        super().__init__()
        # Set for a network read back from ONNX: its BatchNorms hold folded identities, not
        # statistics, so they stay in eval mode while it trains further.
        self.frozen_batch_norms = False
        self.width = width
        c1, c2, c3, c4 = (int(round(c * width)) for c in self.BASE_CHANNELS)
        self.features = nn.Sequential(
            *_block(1, c1, (2, 2)),  # 16 x 64
            *_block(c1, c2, (2, 2)),  # 8 x 32
            *_block(c2, c3, None),
            *_block(c3, c3, (2, 1)),  # 4 x 32
            *_block(c3, c4, None),
            *_block(c4, c4, (4, 1)),  # 1 x 32
        )
        self.dropout = nn.Dropout(0.2)
        self.sequence = nn.GRU(c4, 96, batch_first=True, bidirectional=True)
        self.classify = nn.Linear(192, CLASSES)

    def train(self, mode=True):
        super().train(mode)
        if self.frozen_batch_norms:
            for module in self.features:
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def forward(self, pixels):
        mean = pixels.mean(dim=(2, 3), keepdim=True)
        spread = pixels.std(dim=(2, 3), keepdim=True)
        features = self.features((pixels - mean) / (spread + 0.05))
        steps = self.dropout(features.squeeze(2).permute(0, 2, 1))
        steps, _ = self.sequence(steps)
        return self.classify(steps).log_softmax(dim=2)
