from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.recording.trajectory import (
    TrajectoryRejected,
    TrajectoryWriter,
    trajectory_read,
    trajectory_schema,
    trajectory_validate,
)

STAGES = ("reached", "grasped", "placed")


def _write(path: Path, rows: int = 10, *, rows_per_group: int = 1024) -> None:
    with TrajectoryWriter(path, state_dim=3, action_dim=2, stages=STAGES, rows_per_group=rows_per_group) as writer:
        for i in range(rows):
            writer.add(
                t_s=0.1 * i,
                state=[i, i + 0.5, -i],
                action=np.array([0.25 * i, -1.0], dtype=np.float32),
                policy_latency_s=None if i == 0 else 0.001 * i,
                stage=min(3, i // 3),
            )


def _bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_round_trip_keeps_every_column_and_the_stage_names(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    _write(path, rows=10, rows_per_group=4)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # written as it went, not at the end
    t = trajectory_read(path)
    assert t.rows == 10 and t.stages == STAGES
    np.testing.assert_array_equal(t.step, np.arange(10))
    np.testing.assert_allclose(t.t_s, 0.1 * np.arange(10))
    assert t.state.shape == (10, 3) and t.action.shape == (10, 2)
    np.testing.assert_allclose(t.state[4], [4, 4.5, -4])
    np.testing.assert_allclose(t.action[:, 0], 0.25 * np.arange(10))
    assert np.isnan(t.policy_latency_s[0]) and t.policy_latency_s[5] == pytest.approx(0.005)
    np.testing.assert_array_equal(t.stage, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    columns = t.plot_columns()
    assert columns["policy_latency_s"][0] is None
    assert set(columns) >= {"t_s", "state_0", "state_2", "action_1", "stage"}
    assert columns["state_1"][2] == pytest.approx(2.5)


def test_writer_refuses_vectors_of_the_wrong_length(tmp_path: Path) -> None:
    with TrajectoryWriter(tmp_path / "t.parquet", state_dim=3, action_dim=2) as writer:
        with pytest.raises(ValueError, match="expected 3/2"):
            writer.add(t_s=0.0, state=[1, 2], action=[0, 0], policy_latency_s=None, stage=0)


def test_a_file_written_by_another_tool_is_accepted() -> None:
    # An integrator's own file: doubles, variable-length lists, only the required columns.
    table = pa.table(
        {
            "t_s": pa.array([0.0, 0.5, 1.0]),
            "state": pa.array([[1.0, 2.0], [1.5, 2.5], [2.0, 3.0]], type=pa.list_(pa.float64())),
            "action": pa.array([[0.1], [0.2], [0.3]], type=pa.large_list(pa.float64())),
        }
    )
    t = trajectory_validate(_bytes(table))
    assert t.rows == 3 and t.state.shape == (3, 2) and t.stages == ()
    assert np.all(np.isnan(t.policy_latency_s)) and not t.stage.any()


def test_bad_schema_is_rejected() -> None:
    good = {
        "t_s": pa.array([0.0, 0.1]),
        "state": pa.array([[1.0], [2.0]]),
        "action": pa.array([[0.0], [1.0]]),
    }
    cases = [
        ({k: v for k, v in good.items() if k != "action"}, "missing column"),
        ({**good, "state": pa.array(["a", "b"])}, "list of floats"),
        ({**good, "state": pa.array([[1.0], [2.0, 3.0]])}, "different lengths"),
        ({**good, "state": pa.array([[1.0], [float("nan")]])}, "NaN"),
        ({**good, "t_s": pa.array([0.5, 0.1])}, "never decrease"),
        ({**good, "t_s": pa.array(["0", "1"])}, "numbers"),
        ({**good, "stage": pa.array([0.5, 1.0])}, "whole numbers"),
        ({**good, "policy_latency_s": pa.array([-1.0, 0.1])}, "non-negative"),
    ]
    for columns, reason in cases:
        with pytest.raises(TrajectoryRejected, match=reason):
            trajectory_validate(_bytes(pa.table(columns)))


def test_stage_beyond_the_named_stages_is_rejected() -> None:
    schema = trajectory_schema(state_dim=1, action_dim=1, stages=("a", "b"))
    table = pa.table(
        {
            "step": pa.array([0, 1], pa.int32()),
            "t_s": pa.array([0.0, 0.1]),
            "state": pa.FixedSizeListArray.from_arrays(pa.array([1.0, 2.0], pa.float32()), 1),
            "action": pa.FixedSizeListArray.from_arrays(pa.array([1.0, 2.0], pa.float32()), 1),
            "policy_latency_s": pa.array([0.1, 0.1], pa.float32()),
            "stage": pa.array([0, 3], pa.int16()),
        },
        schema=schema,
    )
    with pytest.raises(TrajectoryRejected, match=r"0\.\.2"):
        trajectory_validate(_bytes(table))


def test_not_parquet_oversized_and_too_many_rows_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TrajectoryRejected, match="not a Parquet"):
        trajectory_validate(b"t_s,state\n0,1\n")
    with pytest.raises(TrajectoryRejected, match="not a readable Parquet"):
        trajectory_validate(b"PAR1" + bytes(64) + b"PAR1")
    path = tmp_path / "t.parquet"
    _write(path, rows=50)
    size = path.stat().st_size
    with pytest.raises(TrajectoryRejected, match="byte limit"):
        trajectory_validate(path, max_bytes=size - 1)
    with pytest.raises(TrajectoryRejected, match="more than the limit of 49"):
        trajectory_validate(path, max_rows=49)
    assert trajectory_validate(path, max_bytes=size, max_rows=50).rows == 50


class _Tagged(pa.ExtensionType):
    """A user extension type: whatever a reader registered for it must never be accepted."""

    def __init__(self) -> None:
        super().__init__(pa.float64(), "test.tagged")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _Tagged:
        return cls()


def test_extension_types_are_rejected() -> None:
    pa.register_extension_type(_Tagged())
    try:
        storage = pa.array([0.0, 0.1])
        table = pa.table(
            {
                "t_s": pa.ExtensionArray.from_storage(_Tagged(), storage),
                "state": pa.array([[1.0], [2.0]]),
                "action": pa.array([[0.0], [1.0]]),
            }
        )
        with pytest.raises(TrajectoryRejected, match="extension type"):
            trajectory_validate(_bytes(table))
    finally:
        pa.unregister_extension_type("test.tagged")
