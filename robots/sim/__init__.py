"""Simulation cells: `cell_make(key)` returns a Cell (see base.py for the interface)."""

from robots.sim.base import Cell, CellOutcome, Fault, Observation
from robots.sim.registry import cell_keys, cell_make, cell_register

__all__ = ["Cell", "CellOutcome", "Fault", "Observation", "cell_keys", "cell_make", "cell_register"]
