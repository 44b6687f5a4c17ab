"""The arm cell's reference network (torch; training and export only, never imported by workers or web).

instruction embedding (MiniLM, 384) -> cosine similarity to one prototype embedding per part -> a sharp
softmax: which part (the only way the instruction reaches the rest, so a phrasing never seen in training
works when the encoder puts it nearest the right part).
image -> three small convolutions (to a 24x24 grid at 96 px) -> FiLM with the part -> spatial softmax:
the image coordinates of 32 keypoints; with the part -> MLP -> where the target's grasp point and its
pocket are; minus the tool position (from the state): the localiser's output, relative to the tool
(6 numbers, in DELTA_SCALE_M).
deltas, part, state -> MLP -> tanh action in [-1, 1] (the action head).
In training, the localiser regresses the cell's privileged labels, its first two attention maps are
pulled to where the grasp point and the pocket are in the image (so the keypoints look at the part and
the world position is a smooth function of them, rather than a layout recalled from the whole picture), and the head learns from noisy true
deltas; at run time the head gets the localiser's estimate.
"""

from __future__ import annotations

import torch
from torch import nn

from policies.reference.model import SpatialSoftmax

DELTA_SCALE_M = 0.1  # the deltas in decimetres: order-one targets
PART_TEMPERATURE = 50.0  # cosine similarities differ by ~0.05-0.3 between parts: sharpen to a choice


class ArmVLA(nn.Module):
    prototypes: torch.Tensor
    tool_mean: torch.Tensor
    tool_std: torch.Tensor

    def __init__(
        self,
        *,
        prototypes: torch.Tensor,
        image_px: int,
        state_mean: torch.Tensor,
        state_std: torch.Tensor,
        width: int = 32,
    ) -> None:
        super().__init__()
        parts = prototypes.shape[0]
        state_dim = state_mean.shape[0]
        self.register_buffer("prototypes", prototypes)
        # The tool position back in metres from the normalised state: the deltas subtract it exactly.
        self.register_buffer("tool_mean", state_mean[:3].repeat(2))
        self.register_buffer("tool_std", state_std[:3].repeat(2))
        self.conv1 = nn.Conv2d(3, 16, kernel_size=4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, width, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.film = nn.Linear(parts, 2 * width)
        self.conv4 = nn.Conv2d(width, width, kernel_size=1)
        self.log_temperature = nn.Parameter(torch.full((width,), 2.3))
        grid = image_px // 4
        self.keypoints = SpatialSoftmax(grid, grid)
        self.localiser = nn.Sequential(
            nn.Linear(2 * width + parts, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 6)
        )
        self.policy = nn.Sequential(
            nn.Linear(6 + parts + state_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 256),
            nn.ReLU(),
            nn.Linear(256, 4),
            nn.Tanh(),
        )

    def part(self, instruction: torch.Tensor) -> torch.Tensor:
        """[B, parts] soft choice of the part the instruction names."""
        return torch.softmax(PART_TEMPERATURE * instruction @ self.prototypes.T, dim=-1)

    @property
    def grid(self) -> torch.Tensor:
        """Image coordinates [HW, 2] of the attention cells."""
        return self.keypoints.grid

    def locate(self, image: torch.Tensor, part: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.locate_with_attention(image, part, state)[0]

    def locate_with_attention(
        self, image: torch.Tensor, part: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 6]: grasp point and pocket minus the tool position, in DELTA_SCALE_M. The image alone gives
        where they are (the state would let the network recognise a training episode by its trajectory
        and recall its layout instead of looking); the tool position comes from the state."""
        x = torch.relu(self.conv1(image))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        gamma, beta = self.film(part).chunk(2, dim=1)
        x = torch.relu(x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])
        x = self.conv4(x)
        b, c, h, w = x.shape
        logits = x.reshape(b, c, h * w) * self.log_temperature.exp()[None, :, None]
        points = self.keypoints(logits).reshape(b, -1)
        world = self.localiser(torch.cat([points, part], dim=1))
        tool = (state[:, :3].repeat(1, 2) * self.tool_std + self.tool_mean) / DELTA_SCALE_M
        return world - tool, logits

    def head(self, deltas: torch.Tensor, part: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """[B, 4] action from the deltas, the part and the normalised state."""
        return self.policy(torch.cat([deltas, part, state], dim=1))

    def forward(self, image: torch.Tensor, instruction: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        part = self.part(instruction)
        return self.head(self.locate(image, part, state), part, state)
