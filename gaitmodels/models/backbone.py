"""ResNet9: the per-frame backbone of the ScoNet family, written directly in torch.

Upstream builds it as a torchvision ``ResNet`` subclass (``opengait/modeling/backbones/resnet.py``); this is
the same network without torchvision: a 3x3 stem without max pooling, then four stages of one BasicBlock
each. With the default widths (64, 128, 256, 512) and strides (1, 2, 2, 1) a 64x44 frame becomes a
512x16x11 feature map, and the backbone has 4,896,960 parameters at one input channel.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU (torchvision's BasicBlock, expansion 1).

    The shortcut is the identity when shape is kept, else a 1x1 conv (with the block's stride) and BN,
    stored as ``downsample`` like torchvision so that upstream checkpoints map key for key.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, c_in, H, W) -> (B, c_out, H / stride, W / stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet9(nn.Module):
    """Stem + four single-block stages, applied to frames (time already folded into the batch).

    Args:
        in_channels: 1 for silhouettes, 2 for [limb, joint] skeleton maps.
        widths: output channels of layer1..layer4; the stem has ``widths[0]``.
        strides: strides of layer1..layer4; upstream ScoNet uses (1, 2, 2, 1), so the output is H/4 x W/4.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        strides: tuple[int, int, int, int] = (1, 2, 2, 1),
    ):
        super().__init__()
        # Upstream's stem: 3x3 stride 1 (not torchvision's 7x7 stride 2) and no max pooling, because
        # 64x44 silhouettes are already small.
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        c_ins = (widths[0], *widths[:-1])
        self.layer1 = BasicBlock(c_ins[0], widths[0], strides[0])
        self.layer2 = BasicBlock(c_ins[1], widths[1], strides[1])
        self.layer3 = BasicBlock(c_ins[2], widths[2], strides[2])
        self.layer4 = BasicBlock(c_ins[3], widths[3], strides[3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) float -> (B, widths[3], H/4, W/4) for the default strides."""
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)
