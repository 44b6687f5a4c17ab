"""The reference VLA network (torch; training and export only, never imported by workers or web).

image (uint8 HxWx3, normalised by the runtime) -> 4x4 patch conv, then a 1x1 conv FiLM-conditioned on the
instruction (so the instruction selects which part the features attend to) -> spatial softmax keypoints
(image coordinates of 32 feature maps) ; concatenated with an instruction projection and the normalised
proprio state -> MLP -> tanh action in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class SpatialSoftmax(nn.Module):
    """Expected (x, y) image coordinates in [-1, 1] of each channel's softmax over pixels."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))  # [HW, 2]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, c, h, w = features.shape
        attention = torch.softmax(features.reshape(b, c, h * w), dim=-1)
        return (attention @ self.grid).reshape(b, c * 2)


class ReferenceVLA(nn.Module):
    def __init__(
        self, *, image_hw: tuple[int, int], state_dim: int, action_dim: int, instruction_dim: int, width: int = 32
    ) -> None:
        super().__init__()
        h, w = image_hw
        # 4x4 patches first: the cells' parts are coloured blobs, and on 2 shared CPU cores small-channel
        # full-resolution convolutions are memory-bound and ~10x slower to train.
        self.conv1 = nn.Conv2d(3, width, kernel_size=4, stride=4)
        self.conv2 = nn.Conv2d(width, width, kernel_size=1)
        self.film = nn.Linear(instruction_dim, 2 * width)
        fh, fw = h // 4, w // 4
        self.keypoints = SpatialSoftmax(fh, fw)
        self.text = nn.Sequential(nn.Linear(instruction_dim, 64), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(2 * width + 64 + state_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, action_dim),
            nn.Tanh(),
        )

    def forward(self, image: torch.Tensor, instruction: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(image))
        gamma, beta = self.film(instruction).chunk(2, dim=1)
        x = self.conv2(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        x = torch.relu(x)
        features = torch.cat([self.keypoints(x), self.text(instruction), state], dim=1)
        return self.head(features)
