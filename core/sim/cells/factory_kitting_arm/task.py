"""What the arm cell asks for: the part types, the instructions naming them, and the variation factors."""

from __future__ import annotations

import re

import numpy as np

from core.sim.parts import PartSpec, Upright
from core.sim.variation import Factor, FactorKind

CONTROL_DT_S = 0.1  # the cell's control period (one action)


PARTS: tuple[PartSpec, ...] = (
    # By the upright flange, high enough that the inner finger clears the base plate.
    PartSpec("bracket", 0.002, (0.0, -0.016, 0.019), Upright.Z_UP),
    # By the square head: the pads reach no lower than the shaft's top, and the heavy head is near the
    # centre of mass anyway.
    PartSpec("bolt", 0.0105, (-0.027, 0.0, 0.0), Upright.X_LEVEL),
    PartSpec("box", 0.02, (0.0, 0.0, 0.0), Upright.ANY),
)
PART_NAMES = tuple(p.name for p in PARTS)
# Parts go to distinct slots of a 2x2 grid in the bin, jittered: clear of the walls, and far enough
# apart that the open fingers fit beside a neighbour.
BIN_SLOTS = np.array([[-0.045, -0.06], [-0.045, 0.06], [0.045, -0.06], [0.045, 0.06]])
BIN_SLOT_JITTER_M = np.array([0.015, 0.012])
PART_YAW_RAD = 0.5
# Parts not in play this episode rest on the floor under the table, hidden by its base.
PARKED_XY = ((-0.15, 0.0), (0.0, 0.0), (0.15, 0.0))
CLUTTER_BODIES = ("clutter_0", "clutter_1", "clutter_2", "clutter_3")
# Clutter lies on the bench between the bin and the tray fixture, below the arm's carrying height.
CLUTTER_LO = np.array([-0.075, -0.2])
CLUTTER_HI = np.array([-0.03, 0.2])
CLUTTER_SPACING_M = 0.04
PHRASINGS = (
    "place the {part} in its pocket of the kit tray",
    "put the {part} into the kit tray",
    "pick up the {part} and put it in the tray",
    "move the {part} from the bin to the kit",
    "kit the {part}",
)
INSTRUCTIONS = tuple(p.format(part=name) for name in PART_NAMES for p in PHRASINGS)
# Other names a person uses for each part: an instruction that says "the orange cube" means the box.
# The cell resolves these (its target is what the instruction means); the reference policy never reads
# this table, it hears the instruction through a sentence encoder.
PART_SYNONYMS: dict[str, tuple[str, ...]] = {
    "bracket": ("angle bracket", "l-bracket", "l-shaped bracket", "mounting bracket", "angle plate"),
    "bolt": ("screw", "hex bolt", "cap screw", "machine screw"),
    "box": ("cube", "carton", "orange block", "crate"),
}
_NAMES = {name: name for name in PART_NAMES} | {word: part for part, words in PART_SYNONYMS.items() for word in words}
# Longest first, so "hex bolt" wins over "bolt" and "orange block" over nothing.
_PART_WORD = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_NAMES, key=len, reverse=True)) + r")s?\b", re.IGNORECASE
)

# Factor keys, units and ranges follow the other cells' (core/sim/variation.py), so a sweep condition
# means the same on this cell as on the floating-gripper one.
DISTRACTOR_LEVELS = ("seeded", "0", "1", "2")
# RGB of a black body at these temperatures relative to 6500 K (D65) white, normalised to the brightest
# channel: Mitchell Charity's blackbody colour table (vendian.org/mncharity/dir3/blackbody, 10 deg CMF).
LIGHT_TINTS: dict[str, tuple[float, float, float]] = {
    "warm-3000k": (1.0, 0.706, 0.420),
    "cool-9000k": (0.824, 0.871, 1.0),
}
MAX_DELAY_STEPS = 10
FACTORS: tuple[Factor, ...] = (
    Factor(
        "light_intensity",
        "Light intensity",
        "x nominal",
        1.0,
        low=0.2,
        high=2.5,
        description="The work light's diffuse and specular output and the headlight scaled by this factor.",
    ),
    Factor(
        "light_azimuth_deg",
        "Light direction",
        "deg",
        0.0,
        low=-180.0,
        high=180.0,
        description="The work light turned about the vertical axis through the bench centre (position and direction).",
    ),
    Factor(
        "light_colour",
        "Light colour",
        "colour temperature",
        "nominal",
        kind=FactorKind.CATEGORY,
        choices=("nominal", *LIGHT_TINTS),
        description="The lights tinted as a black body at 3000 K (warm tungsten) or 9000 K (cool daylight).",
    ),
    Factor(
        "camera_shift_m",
        "Camera position offset",
        "m",
        0.0,
        low=0.0,
        high=0.05,
        description=(
            "The front (scene) camera moved by this distance in a direction drawn from the episode seed; the "
            "wrist camera stays on its mount."
        ),
    ),
    Factor(
        "camera_rotation_deg",
        "Camera orientation offset",
        "deg",
        0.0,
        low=0.0,
        high=10.0,
        description=(
            "The front (scene) camera turned in place by this angle about an axis across its view, drawn per "
            "episode; the wrist camera stays on its mount."
        ),
    ),
    Factor(
        "distractors",
        "Distractor parts",
        "parts",
        "seeded",
        kind=FactorKind.CATEGORY,
        choices=DISTRACTOR_LEVELS,
        description=(
            "Other part types in the bin beside the target: the seeded draw (0, 1 or 2 with probabilities "
            "0.3, 0.4, 0.3), or exactly 0, 1 or 2. Every part's bin slot and pose are drawn either way, so "
            "the seeded parts keep their poses and an added one takes its own slot."
        ),
    ),
    Factor(
        "clutter",
        "Clutter",
        "items",
        0.0,
        low=0.0,
        high=float(len(CLUTTER_BODIES)),
        integer=True,
        description="Washers and nuts that are not in the kit, on the bench between the bin and the tray fixture.",
    ),
    Factor(
        "action_noise",
        "Action noise",
        "std, fraction of the action range",
        0.0,
        low=0.0,
        high=0.25,
        description="Gaussian noise added to each motion component of an action before the cell executes it.",
    ),
    Factor(
        "actuation_delay",
        "Actuation delay",
        "steps",
        0.0,
        low=0.0,
        high=float(MAX_DELAY_STEPS),
        integer=True,
        description=(
            f"The action of step t executed at step t + delay ({CONTROL_DT_S:g} s a step); the arm holds "
            "its set-point and grip until then."
        ),
    ),
)


def instruction_part(instruction: str) -> str | None:
    """Returns the part type an instruction names ('bracket', 'bolt', 'box'), by name or by one of
    PART_SYNONYMS, or None if it names none."""
    match = _PART_WORD.search(instruction)
    return _NAMES[match.group(1).lower()] if match else None
