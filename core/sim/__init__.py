"""Simulation cells: `cell_make(key)` returns a Cell (see base.py for the interface)."""

import os

# MuJoCo picks its GL backend when it is first imported, wherever that happens (a cell, an adapter,
# a test). EGL with Mesa's software rasteriser works on CPU-only machines; one llvmpipe thread per
# process keeps parallel workers from oversubscribing cores. Both can be overridden from the env.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("LP_NUM_THREADS", "1")

from core.sim.base import Cell, CellOutcome, Fault, Observation
from core.sim.registry import cell_keys, cell_make, cell_register

__all__ = ["Cell", "CellOutcome", "Fault", "Observation", "cell_keys", "cell_make", "cell_register"]
