"""The reference VLA network (torch; training and export only, never imported by workers or web).

image (uint8 HxWx3, normalised by the runtime) -> 4x4 patch conv -> 3x3 conv over the patch grid (a part
is told from its surroundings, e.g. the bin's edge or the gripper's pads) -> FiLM with the instruction,
then a 1x1 conv mixing the modulated channels (so the instruction chooses which combination of colour and
shape features a keypoint attends to) -> spatial softmax with a learned temperature: the image
coordinates of 32 attention maps; concatenated with an instruction projection and the normalised proprio
state -> MLP -> tanh action in [-1, 1].

In training, the first attention maps also get a cross-entropy loss towards where the cell says the
task's key objects are (core.sim Cell.training_keypoints: the target part, the tray). At run time the
policy sees only the image, the instruction and the proprio state.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SpatialSoftmax(nn.Module):
    """Expected (x, y) image coordinates in [-1, 1] of each channel's softmax over pixels."""

    grid: torch.Tensor

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))  # [HW, 2]

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [B, C, HW] -> keypoints [B, C, 2]."""
        return torch.softmax(logits, dim=-1) @ self.grid


def film(x: torch.Tensor, gamma_beta: torch.Tensor) -> torch.Tensor:
    """FiLM: features [B, C, H, W] scaled by (1 + gamma) and shifted by beta ([B, 2C], gamma first), then ReLU."""
    gamma, beta = gamma_beta.chunk(2, dim=1)
    return torch.relu(x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])


def tempered_logits(x: torch.Tensor, log_temperature: torch.Tensor) -> torch.Tensor:
    """Features [B, C, H, W] -> attention logits [B, C, HW], each channel times its learned temperature."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h * w) * log_temperature.exp()[None, :, None]


class ReferenceVLA(nn.Module):
    def __init__(
        self, *, image_hw: tuple[int, int], state_dim: int, action_dim: int, instruction_dim: int, width: int = 32
    ) -> None:
        super().__init__()
        h, w = image_hw
        # 4x4 patches first: the cells' parts are coloured blobs, and on 2 shared CPU cores small-channel
        # full-resolution convolutions are memory-bound and ~10x slower to train.
        self.conv1 = nn.Conv2d(3, width, kernel_size=4, stride=4)
        self.context = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.film = nn.Linear(instruction_dim, 2 * width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=1)
        # Attention logits of order one give near-uniform maps over hundreds of cells; a learned
        # temperature (starting at 10) lets a map become peaked without huge weights.
        self.log_temperature = nn.Parameter(torch.full((width,), math.log(10.0)))
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

    @property
    def grid(self) -> torch.Tensor:
        """Image coordinates [HW, 2] of the attention cells."""
        return self.keypoints.grid

    def attention_logits(self, image: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        """[B, C, HW] attention logits (after the temperature)."""
        x = torch.relu(self.conv1(image))
        x = torch.relu(self.context(x))
        x = self.conv2(film(x, self.film(instruction)))
        return tempered_logits(x, self.log_temperature)

    def act(
        self, image: torch.Tensor, instruction: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(action [B, A], attention logits [B, C, HW])."""
        logits = self.attention_logits(image, instruction)
        points = self.keypoints(logits).reshape(logits.shape[0], -1)
        features = torch.cat([points, self.text(instruction), state], dim=1)
        return self.head(features), logits

    def forward(self, image: torch.Tensor, instruction: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.act(image, instruction, state)[0]
