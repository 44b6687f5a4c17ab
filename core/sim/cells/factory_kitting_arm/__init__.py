"""`factory-kitting-arm`: a Franka Panda arm picks the named part from a feeder bin into its pocket of a
kit tray (cell.py); the model it runs (station.py: the station's MJCF with robosuite's Panda attached);
the parts, instructions and variation factors (task.py)."""

from core.sim.cells.factory_kitting_arm.cell import KEY, STAGES, FactoryKittingArm, make
from core.sim.cells.factory_kitting_arm.station import robosuite_assets, station_model
from core.sim.cells.factory_kitting_arm.task import (
    FACTORS,
    INSTRUCTIONS,
    PART_NAMES,
    PARTS,
    PHRASINGS,
    instruction_part,
)

__all__ = [
    "FACTORS",
    "INSTRUCTIONS",
    "KEY",
    "PARTS",
    "PART_NAMES",
    "PHRASINGS",
    "STAGES",
    "FactoryKittingArm",
    "instruction_part",
    "make",
    "robosuite_assets",
    "station_model",
]
