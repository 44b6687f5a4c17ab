"""Episode trajectory as Parquet: per step the simulated time, the proprio state the policy saw, the
action it returned, how long it took, and how many of the cell's stages were reached by then.

One row per policy step, in the same order as the policy camera's video frames (row i = frame i).
Written in row groups as the episode runs (no whole-episode buffer), zstd-compressed. Uploaded files
(robot agents, integrators) go through `trajectory_validate`: size and row limits checked from the
footer before any column is read, Arrow extension types neither built nor accepted, every column's
type and values checked.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_KEY = b"trialbench.trajectory"
SCHEMA_VERSION = 1
ROWS_PER_GROUP = 1024
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_UPLOAD_ROWS = 200_000  # an hour at 50 Hz
MAX_UPLOAD_COLUMNS = 32
MAX_VECTOR_DIM = 256
# Footer size limits passed to the Parquet reader: a crafted footer cannot make it allocate much.
_THRIFT_STRING_LIMIT = 1 << 20
_THRIFT_CONTAINER_LIMIT = 10_000
_SCHEMA_DEPTH_LIMIT = 8


class TrajectoryRejected(ValueError):
    """An uploaded trajectory is not one we accept; str() says why, in words for the uploader."""


def trajectory_schema(*, state_dim: int, action_dim: int, stages: tuple[str, ...] = ()) -> pa.Schema:
    """The Arrow schema TrialBench writes; the stage names and dimensions ride in its metadata."""
    meta = {"version": SCHEMA_VERSION, "state_dim": state_dim, "action_dim": action_dim, "stages": list(stages)}
    return pa.schema(
        [
            pa.field("step", pa.int32(), nullable=False),
            pa.field("t_s", pa.float64(), nullable=False),
            pa.field("state", pa.list_(pa.float32(), state_dim), nullable=False),
            pa.field("action", pa.list_(pa.float32(), action_dim), nullable=False),
            pa.field("policy_latency_s", pa.float32()),
            pa.field("stage", pa.int16(), nullable=False),
        ],
        metadata={SCHEMA_KEY: json.dumps(meta).encode()},
    )


@dataclass(frozen=True)
class Trajectory:
    """Columns as arrays: step (n,), t_s (n,), state (n, d), action (n, a), policy_latency_s (n,)
    with NaN where unknown, stage (n,) = stages reached at that step; stages: the cell's stage names
    (empty when the file names none)."""

    step: npt.NDArray[np.int64]
    t_s: npt.NDArray[np.float64]
    state: npt.NDArray[np.float32]
    action: npt.NDArray[np.float32]
    policy_latency_s: npt.NDArray[np.float64]
    stage: npt.NDArray[np.int64]
    stages: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return int(self.t_s.shape[0])

    def plot_columns(self) -> dict[str, list[float | None]]:
        """JSON-ready series for plots: t_s, state_0.., action_0.., policy_latency_s (None where
        unknown), stage."""
        columns: dict[str, list[float | None]] = {"t_s": self.t_s.tolist()}
        for i in range(self.state.shape[1]):
            columns[f"state_{i}"] = self.state[:, i].astype(float).tolist()
        for i in range(self.action.shape[1]):
            columns[f"action_{i}"] = self.action[:, i].astype(float).tolist()
        columns["policy_latency_s"] = [None if math.isnan(v) else v for v in self.policy_latency_s.tolist()]
        columns["stage"] = [float(v) for v in self.stage.tolist()]
        return columns


@dataclass(frozen=True)
class TrajectoryInfo:
    rows: int
    bytes: int


class TrajectoryWriter:
    """Appends one row per policy step (`add`) and writes a row group every ROWS_PER_GROUP rows;
    `close()` returns a TrajectoryInfo. Leaving it as a context manager on an exception removes the
    partial file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        state_dim: int,
        action_dim: int,
        stages: tuple[str, ...] = (),
        rows_per_group: int = ROWS_PER_GROUP,
    ) -> None:
        self.path = Path(path)
        self.state_dim, self.action_dim, self.stages = state_dim, action_dim, stages
        self.schema = trajectory_schema(state_dim=state_dim, action_dim=action_dim, stages=stages)
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(str(self.path), self.schema, compression="zstd")
        self._rows_per_group = rows_per_group
        self._buffer: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        self.rows = 0

    def add(
        self,
        *,
        t_s: float,
        state: npt.ArrayLike,
        action: npt.ArrayLike,
        policy_latency_s: float | None,
        stage: int,
    ) -> None:
        """One policy step. Raises ValueError for a state or action of the wrong length, RuntimeError once closed."""
        if self._writer is None:
            raise RuntimeError("trajectory writer is closed")
        state_row = np.asarray(state, dtype=np.float32).reshape(-1)
        action_row = np.asarray(action, dtype=np.float32).reshape(-1)
        if state_row.shape[0] != self.state_dim or action_row.shape[0] != self.action_dim:
            raise ValueError(
                f"state/action of length {state_row.shape[0]}/{action_row.shape[0]}, "
                f"expected {self.state_dim}/{self.action_dim}"
            )
        b = self._buffer
        b["step"].append(self.rows)
        b["t_s"].append(float(t_s))
        b["state"].append(state_row)
        b["action"].append(action_row)
        b["policy_latency_s"].append(None if policy_latency_s is None else float(policy_latency_s))
        b["stage"].append(int(stage))
        self.rows += 1
        if len(b["step"]) >= self._rows_per_group:
            self._flush()

    def _flush(self) -> None:
        b = self._buffer
        if not b["step"] or self._writer is None:
            return

        def vectors(rows: list[npt.NDArray[np.float32]], dim: int) -> pa.FixedSizeListArray:
            flat = pa.array(np.concatenate(rows) if rows else np.empty(0, np.float32), type=pa.float32())
            return pa.FixedSizeListArray.from_arrays(flat, dim)

        batch = pa.record_batch(
            [
                pa.array(b["step"], type=pa.int32()),
                pa.array(b["t_s"], type=pa.float64()),
                vectors(b["state"], self.state_dim),
                vectors(b["action"], self.action_dim),
                pa.array(b["policy_latency_s"], type=pa.float32()),
                pa.array(b["stage"], type=pa.int16()),
            ],
            schema=self.schema,
        )
        self._writer.write_batch(batch)
        self._buffer = {name: [] for name in self.schema.names}

    def close(self) -> TrajectoryInfo:
        """Write what is buffered and the footer; returns the TrajectoryInfo."""
        if self._writer is None:
            raise RuntimeError("trajectory writer is closed")
        self._flush()
        writer, self._writer = self._writer, None
        writer.close()
        return TrajectoryInfo(rows=self.rows, bytes=self.path.stat().st_size)

    def abort(self) -> None:
        """Stop and remove the partial file; returns nothing."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif self._writer is not None:
            self.close()


# ---------------------------------------------------------------- reading and validation


def _stages_from(schema: pa.Schema) -> tuple[str, ...]:
    raw = (schema.metadata or {}).get(SCHEMA_KEY)
    if raw is None:
        return ()
    try:
        meta = json.loads(raw)
        stages = meta.get("stages", []) if isinstance(meta, dict) else []
    except (ValueError, UnicodeDecodeError):
        raise TrajectoryRejected("the trialbench.trajectory metadata is not valid JSON") from None
    if (
        not isinstance(stages, list)
        or not all(isinstance(s, str) and len(s) <= 200 for s in stages)
        or len(stages) > 64
    ):
        raise TrajectoryRejected("the stage names in the metadata must be a list of at most 64 short strings")
    return tuple(stages)


def _is_float(t: pa.DataType) -> bool:
    return bool(pa.types.is_floating(t))


def _vector_column(table: pa.Table, name: str) -> npt.NDArray[np.float32]:
    column = table.column(name).combine_chunks()
    t = column.type
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) or not _is_float(
        t.value_type
    ):
        raise TrajectoryRejected(f"column {name!r} must be a list of floats, not {t}")
    if column.null_count:
        raise TrajectoryRejected(f"column {name!r} has empty rows")
    if pa.types.is_fixed_size_list(t):
        dim = t.list_size
    else:
        lengths = np.asarray(column.value_lengths())
        dim = int(lengths[0]) if len(lengths) else 0
        if np.any(lengths != dim):
            raise TrajectoryRejected(f"column {name!r} has rows of different lengths")
    if not 0 < dim <= MAX_VECTOR_DIM and len(column):
        raise TrajectoryRejected(f"column {name!r} must have 1..{MAX_VECTOR_DIM} values per row, has {dim}")
    flat = np.asarray(column.flatten(), dtype=np.float32)
    if not np.all(np.isfinite(flat)):
        raise TrajectoryRejected(f"column {name!r} holds NaN or infinite values")
    return flat.reshape(len(column), dim)


def _trajectory_from(table: pa.Table, stages: tuple[str, ...]) -> Trajectory:
    names = set(table.column_names)
    missing = {"t_s", "state", "action"} - names
    if missing:
        raise TrajectoryRejected(f"missing column(s): {', '.join(sorted(missing))}")
    n = table.num_rows
    t_type = table.schema.field("t_s").type
    if not (_is_float(t_type) or pa.types.is_integer(t_type)):
        raise TrajectoryRejected(f"column 't_s' must be numbers, not {t_type}")
    t_col = table.column("t_s")
    if t_col.null_count:
        raise TrajectoryRejected("column 't_s' has empty rows")
    t_s = np.asarray(t_col.to_numpy(), dtype=np.float64)
    if not np.all(np.isfinite(t_s)) or np.any(t_s < 0) or np.any(np.diff(t_s) < 0):
        raise TrajectoryRejected("column 't_s' must be finite, non-negative seconds that never decrease")
    if "step" in names:
        s_type = table.schema.field("step").type
        if not pa.types.is_integer(s_type) or table.column("step").null_count:
            raise TrajectoryRejected("column 'step' must be whole numbers with no empty rows")
        step = np.asarray(table.column("step").to_numpy(), dtype=np.int64)
    else:
        step = np.arange(n, dtype=np.int64)
    if "policy_latency_s" in names:
        l_type = table.schema.field("policy_latency_s").type
        if not (_is_float(l_type) or pa.types.is_null(l_type)):
            raise TrajectoryRejected(f"column 'policy_latency_s' must be floats, not {l_type}")
        latency = np.asarray(table.column("policy_latency_s").to_numpy(zero_copy_only=False), dtype=np.float64)
        if np.any(latency[~np.isnan(latency)] < 0):
            raise TrajectoryRejected("column 'policy_latency_s' must be non-negative seconds")
    else:
        latency = np.full(n, np.nan)
    if "stage" in names:
        g_type = table.schema.field("stage").type
        if not pa.types.is_integer(g_type) or table.column("stage").null_count:
            raise TrajectoryRejected("column 'stage' must be whole numbers with no empty rows")
        stage = np.asarray(table.column("stage").to_numpy(), dtype=np.int64)
        top = len(stages) if stages else np.iinfo(np.int16).max
        if np.any(stage < 0) or np.any(stage > top):
            raise TrajectoryRejected(f"column 'stage' must count stages reached, 0..{top}")
    else:
        stage = np.zeros(n, dtype=np.int64)
    return Trajectory(
        step=step,
        t_s=t_s,
        state=_vector_column(table, "state"),
        action=_vector_column(table, "action"),
        policy_latency_s=latency,
        stage=stage,
        stages=stages,
    )


def trajectory_validate(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_rows: int = MAX_UPLOAD_ROWS,
) -> Trajectory:
    """Check and read an uploaded Parquet trajectory: at most max_bytes and max_rows (read from the
    footer first), no Arrow extension type, the columns t_s, state, action (step, policy_latency_s,
    stage optional) with the types and values a trajectory has. Returns the Trajectory. Raises
    TrajectoryRejected saying why."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.stat().st_size > max_bytes:
            raise TrajectoryRejected(f"the trajectory is larger than the {max_bytes} byte limit")
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TrajectoryRejected(f"the trajectory is larger than the {max_bytes} byte limit")
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise TrajectoryRejected("not a Parquet file")
    try:
        parquet = pq.ParquetFile(
            io.BytesIO(data),
            arrow_extensions_enabled=False,
            thrift_string_size_limit=_THRIFT_STRING_LIMIT,
            thrift_container_size_limit=_THRIFT_CONTAINER_LIMIT,
            schema_depth_limit=_SCHEMA_DEPTH_LIMIT,
        )
        meta = parquet.metadata
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TrajectoryRejected(f"not a readable Parquet file: {exc}") from None
    if meta.num_rows > max_rows:
        raise TrajectoryRejected(f"the trajectory has {meta.num_rows} rows, more than the limit of {max_rows}")
    if meta.num_columns > MAX_UPLOAD_COLUMNS:
        raise TrajectoryRejected(f"the trajectory has more than {MAX_UPLOAD_COLUMNS} columns")
    # Compressed pages can hide a large table: bound what decoding may produce as well.
    uncompressed = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if uncompressed > 8 * max_bytes:
        raise TrajectoryRejected("the trajectory decompresses to more than the size limit allows")
    for f in schema:
        if isinstance(f.type, pa.BaseExtensionType):
            raise TrajectoryRejected(f"column {f.name!r} uses an extension type ({f.type}), which is not accepted")
    stages = _stages_from(schema)
    wanted = [c for c in ("step", "t_s", "state", "action", "policy_latency_s", "stage") if c in schema.names]
    try:
        table = parquet.read(columns=wanted, use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TrajectoryRejected(f"the trajectory could not be read: {exc}") from None
    return _trajectory_from(table, stages)


def trajectory_read(path: str | os.PathLike[str]) -> Trajectory:
    """Read a trajectory file (one we wrote, or an upload already validated). Raises TrajectoryRejected
    if it is not a trajectory."""
    return trajectory_validate(path, max_bytes=1 << 40, max_rows=1 << 40)
