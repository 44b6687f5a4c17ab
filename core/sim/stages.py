"""How far an episode got: the furthest of the cell's ordered stages, when each was first reached, and
progress in [0, 1] (stages reached / stages). Pure bookkeeping the rollout feeds once per step with the
cell's `stage_reached()`; agents and integrators reporting stages can use it too."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageResult:
    """stages: the cell's stage names in order; reached_at_s[i]: simulated second stage i was first
    reached (len = stages reached). last_stage is None when none was reached."""

    stages: tuple[str, ...]
    reached_at_s: tuple[float, ...]

    @property
    def reached(self) -> int:
        return len(self.reached_at_s)

    @property
    def last_stage(self) -> str | None:
        return self.stages[self.reached - 1] if self.reached else None

    @property
    def last_stage_at_s(self) -> float | None:
        return self.reached_at_s[-1] if self.reached_at_s else None

    @property
    def progress(self) -> float:
        """Stages reached over stages, in [0, 1]; 0.0 for a cell that defines none."""
        return self.reached / len(self.stages) if self.stages else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: stages, reached, reached_at_s, last_stage, last_stage_at_s, progress."""
        return {
            "stages": list(self.stages),
            "reached": self.reached,
            "reached_at_s": list(self.reached_at_s),
            "last_stage": self.last_stage,
            "last_stage_at_s": self.last_stage_at_s,
            "progress": round(self.progress, 6),
        }


@dataclass
class StageTracker:
    """Feed `update(t_s=..., reached=...)` after reset and after every step."""

    stages: tuple[str, ...]
    _reached_at_s: list[float] = field(default_factory=list)

    def update(self, *, t_s: float, reached: int) -> None:
        """Record stages newly reached at t_s; a count that goes down is ignored (the furthest stage
        counts) and one that skips stages marks the skipped ones reached at the same time. Raises
        ValueError for a count outside 0..len(stages)."""
        if not 0 <= reached <= len(self.stages):
            raise ValueError(f"stage count {reached} outside 0..{len(self.stages)}")
        while len(self._reached_at_s) < reached:
            self._reached_at_s.append(float(t_s))

    @property
    def reached(self) -> int:
        return len(self._reached_at_s)

    def result(self) -> StageResult:
        return StageResult(stages=self.stages, reached_at_s=tuple(self._reached_at_s))
