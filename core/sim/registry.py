from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.sim.base import Cell

_FACTORIES: dict[str, Callable[..., Cell]] = {}


def cell_register(key: str) -> Callable[[Callable[..., Cell]], Callable[..., Cell]]:
    """Decorator: register a cell factory under `key` (e.g. 'factory-kitting')."""

    def decorate(factory: Callable[..., Cell]) -> Callable[..., Cell]:
        if key in _FACTORIES:
            raise ValueError(f"cell key {key!r} registered twice")
        _FACTORIES[key] = factory
        return factory

    return decorate


def _load_builtin_cells() -> None:
    # Imported lazily: simulator modules are heavy, and the web process rarely needs them.
    import importlib
    import pkgutil
    from pathlib import Path

    for module in pkgutil.iter_modules([str(Path(__file__).parent / "cells")]):
        importlib.import_module(f"core.sim.cells.{module.name}")


def cell_keys() -> list[str]:
    _load_builtin_cells()
    return sorted(_FACTORIES)


def cell_make(key: str, **kwargs: Any) -> Cell:
    """A new cell instance for `key`. Raises KeyError naming the known keys."""
    _load_builtin_cells()
    try:
        factory = _FACTORIES[key]
    except KeyError:
        raise KeyError(f"unknown simulation cell {key!r}; known: {', '.join(sorted(_FACTORIES))}") from None
    return factory(**kwargs)
