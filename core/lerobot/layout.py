"""The LeRobotDataset v3.0 layout, as LeRobot 0.4.x writes it (lerobot/datasets/utils.py): paths,
default sizes, the per-frame columns every dataset has, and the feature <-> Arrow type mapping that
Hugging Face `datasets` uses for them (scalars for shape (1,), fixed-size lists for vectors)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

CODEBASE_VERSION = "v3.0"
DEFAULT_CHUNK_SIZE = 1000  # files per chunk folder
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 200
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
IMAGE_KEY_PREFIX = "observation.images."
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{round(q * 100):02d}" for q in QUANTILES)
# The columns LeRobot's writer adds to every frame.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
_ARROW_TYPES = {
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
}


def chunk_file_next(chunk_index: int, file_index: int, *, chunks_size: int) -> tuple[int, int]:
    """The (chunk, file) after this one: a chunk folder holds chunks_size files (LeRobot's rule)."""
    if file_index == chunks_size - 1:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def arrow_type(feature: dict[str, Any]) -> pa.DataType:
    """The Arrow type of a non-video feature's column. Raises ValueError for dtypes or shapes we
    do not write."""
    dtype, shape = feature["dtype"], list(feature["shape"])
    if dtype not in _ARROW_TYPES:
        raise ValueError(f"feature dtype {dtype!r} is not written")
    if shape == [1]:
        return _ARROW_TYPES[dtype]
    if len(shape) == 1:
        return pa.list_(_ARROW_TYPES[dtype], shape[0])
    raise ValueError(f"feature shape {shape} is not written")


def hf_features_metadata(features: dict[str, dict[str, Any]]) -> bytes:
    """The `huggingface` schema metadata `datasets` stores in a Parquet file for these features, so
    `datasets.load_dataset` reads the columns with their LeRobot types."""
    hf: dict[str, Any] = {}
    for key, feature in features.items():
        if feature["dtype"] == "video":
            continue
        value = {"dtype": feature["dtype"], "_type": "Value"}
        shape = list(feature["shape"])
        hf[key] = value if shape == [1] else {"feature": value, "length": shape[0], "_type": "List"}
    return json.dumps({"info": {"features": hf}}).encode()
