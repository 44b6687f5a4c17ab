"""The arm cell's reference network (torch; training and export only, never imported by workers or web).

instruction embedding (MiniLM, 384) minus the prototypes' centre -> cosine similarity to one prototype
direction per part -> a sharp softmax: which part (the only way the instruction reaches the rest, so a phrasing never seen in training
works when the encoder puts it nearest the right part).
Each camera image -> three small convolutions (to a 24x24 grid at 96 px) -> FiLM with the part -> spatial
softmax: the image coordinates of 32 keypoints per camera.
- front camera keypoints + part -> MLP -> where the target's grasp point and its pocket are in the world;
  minus the tool position (from the state): an estimate relative to the tool. Coarse (~8 mm a pixel over
  the whole bench) but always in view.
- wrist camera keypoints + part + tool height -> MLP -> the same two points relative to the tool directly
  (the camera rides on the hand, so where a point is in its image is where it is relative to the tool, at
  a scale set by the height). Fine near the part or the tray, out of view elsewhere.
- a gate per point (MLP of both cameras' keypoints, part, height -> sigmoid) mixes the two estimates.
deltas, part, state -> MLP -> tanh action in [-1, 1] (the action head).
In training, the three estimates regress the cell's privileged labels (6 numbers, in DELTA_SCALE_M), the
first two attention maps of each camera are pulled to where the grasp point and the pocket are in its
image (when in view), and the head learns from noisy true deltas; at run time the head gets the mix.
Neither localiser sees the tool's x-y or the joints: a network that sees the trajectory recalls a
training layout from it instead of looking.
"""

from __future__ import annotations

import torch
from torch import nn

from policies.reference.model import SpatialSoftmax, film, tempered_logits

DELTA_SCALE_M = 0.1  # the deltas in decimetres: order-one targets
PART_TEMPERATURE = 50.0  # centred cosines differ by ~0.02-0.5 between parts: sharpen to a choice
TOOL_Z_INDEX = 2  # the tool height in the state vector


class CameraKeypoints(nn.Module):
    """image [B, 3, H, W] + part [B, parts] -> (keypoints [B, 2 * width], attention logits [B, width, HW])."""

    def __init__(self, *, parts: int, image_px: int, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, width, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(width, width, kernel_size=3, padding=1)
        self.film = nn.Linear(parts, 2 * width)
        self.conv4 = nn.Conv2d(width, width, kernel_size=1)
        self.log_temperature = nn.Parameter(torch.full((width,), 2.3))
        grid = image_px // 4
        self.keypoints = SpatialSoftmax(grid, grid)

    def forward(self, image: torch.Tensor, part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.conv1(image))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        logits = tempered_logits(self.conv4(film(x, self.film(part))), self.log_temperature)
        return self.keypoints(logits).reshape(len(image), -1), logits


def _mlp(inputs: int, outputs: int, hidden: int = 256) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
    )


class ArmVLA(nn.Module):
    prototypes: torch.Tensor
    prototype_centre: torch.Tensor
    tool_mean: torch.Tensor
    tool_std: torch.Tensor

    def __init__(
        self,
        *,
        prototypes: torch.Tensor,
        prototype_centre: torch.Tensor,
        image_px: int,
        state_mean: torch.Tensor,
        state_std: torch.Tensor,
        width: int = 32,
    ) -> None:
        super().__init__()
        parts = prototypes.shape[0]
        state_dim = state_mean.shape[0]
        self.register_buffer("prototypes", prototypes)
        self.register_buffer("prototype_centre", prototype_centre)
        # The tool position back in metres from the normalised state: the deltas subtract it exactly.
        self.register_buffer("tool_mean", state_mean[:3].repeat(2))
        self.register_buffer("tool_std", state_std[:3].repeat(2))
        self.front = CameraKeypoints(parts=parts, image_px=image_px, width=width)
        self.wrist = CameraKeypoints(parts=parts, image_px=image_px, width=width)
        self.front_localiser = _mlp(2 * width + parts, 6)
        self.wrist_localiser = _mlp(2 * width + parts + 1, 6)
        self.gate = _mlp(4 * width + parts + 1, 2, hidden=128)
        self.policy = nn.Sequential(_mlp(6 + parts + state_dim, 4), nn.Tanh())

    def part(self, instruction: torch.Tensor) -> torch.Tensor:
        """[B, parts] soft choice of the part the instruction names."""
        centred = instruction - self.prototype_centre
        centred = centred / centred.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        return torch.softmax(PART_TEMPERATURE * centred @ self.prototypes.T, dim=-1)

    @property
    def grid(self) -> torch.Tensor:
        """Image coordinates [HW, 2] of the attention cells (the same for both cameras)."""
        return self.front.keypoints.grid

    def locate(self, front: torch.Tensor, wrist: torch.Tensor, part: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.estimates(front, wrist, part, state)["mixed"]

    def estimates(
        self, front: torch.Tensor, wrist: torch.Tensor, part: torch.Tensor, state: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The grasp point and the pocket minus the tool position ([B, 6], in DELTA_SCALE_M) as each camera
        sees them ("front", "wrist") and mixed by the gate ("mixed", with "gate" [B, 2]), and both
        cameras' attention logits ("front_logits", "wrist_logits")."""
        front_points, front_logits = self.front(front, part)
        wrist_points, wrist_logits = self.wrist(wrist, part)
        height = state[:, TOOL_Z_INDEX : TOOL_Z_INDEX + 1]
        tool = (state[:, :3].repeat(1, 2) * self.tool_std + self.tool_mean) / DELTA_SCALE_M
        from_front = self.front_localiser(torch.cat([front_points, part], dim=1)) - tool
        from_wrist = self.wrist_localiser(torch.cat([wrist_points, part, height], dim=1))
        gate = torch.sigmoid(self.gate(torch.cat([front_points, wrist_points, part, height], dim=1)))
        weight = gate.repeat_interleave(3, dim=1)
        mixed = weight * from_wrist + (1 - weight) * from_front
        return {
            "front": from_front,
            "wrist": from_wrist,
            "mixed": mixed,
            "gate": gate,
            "front_logits": front_logits,
            "wrist_logits": wrist_logits,
        }

    def head(self, deltas: torch.Tensor, part: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """[B, 4] action from the deltas, the part and the normalised state."""
        return self.policy(torch.cat([deltas, part, state], dim=1))

    def forward(
        self, image: torch.Tensor, wrist_image: torch.Tensor, instruction: torch.Tensor, state: torch.Tensor
    ) -> torch.Tensor:
        part = self.part(instruction)
        return self.head(self.locate(image, wrist_image, part, state), part, state)
