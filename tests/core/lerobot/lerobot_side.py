"""The LeRobot side of tests/lerobot, run in .venv-lerobot (lerobot + torch) as a subprocess:

    python tests/lerobot/lerobot_side.py load ROOT OUT.json FRAMES.npz INDEX...
    python tests/lerobot/lerobot_side.py record ROOT OUT.json
    python tests/lerobot/lerobot_side.py act-policy FOLDER
    python tests/lerobot/lerobot_side.py preprocess OBS.npz OUT.json

`load` opens a dataset with LeRobotDataset (local root, hub offline) and reports what LeRobot sees;
`record` writes one with LeRobot's own recording API; `act-policy` saves a tiny ACT policy with random
weights; `preprocess` passes a gym observation (pixels/<camera>, agent_pos in an npz) through
LeRobot's env preprocessing. Results go to files, so the test in the project's environment asserts on them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

REPO_ID = "trialbench/test"


def load(root: str, out: str, frames_path: str, indices: list[int]) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(REPO_ID, root=root)
    episodes = []
    for i in range(ds.meta.total_episodes):
        ep = ds.meta.episodes[i]
        last = ds[int(ep["dataset_to_index"]) - 1]
        episodes.append(
            {
                "length": int(ep["length"]),
                "outcome": ep.get("outcome"),
                "faults": ep.get("faults"),
                "last_next_success": bool(last["next.success"].item()),
                "last_next_done": bool(last["next.done"].item()),
                "task": last["task"],
                # A sweep export's condition columns, as LeRobot's episodes metadata hands them over.
                "condition": {
                    k: ep[k]
                    for k in ep
                    if k.startswith(("condition", "factor/")) or k in ("trial", "trial_episode_index")
                },
            }
        )
    frames = {}
    items = {}
    for index in indices:
        item = ds[index]
        for key in ds.meta.video_keys:
            frames[f"{key}:{index}"] = (item[key].numpy() * 255.0).round().astype(np.uint8).transpose(1, 2, 0)
        items[str(index)] = {
            "observation.state": item["observation.state"].tolist(),
            "episode_index": int(item["episode_index"].item()),
            "frame_index": int(item["frame_index"].item()),
        }
    np.savez(frames_path, **frames)
    report = {
        "codebase_version": ds.meta.info["codebase_version"],
        "num_episodes": ds.num_episodes,
        "num_frames": ds.num_frames,
        "fps": ds.fps,
        "video_keys": ds.meta.video_keys,
        "shapes": {k: list(v) for k, v in ds.meta.shapes.items()},
        "stats_keys": sorted(ds.meta.stats),
        "episodes": episodes,
        "items": items,
    }
    Path(out).write_text(json.dumps(report, default=str))


def record(root: str, out: str) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {
        "observation.state": {"dtype": "float32", "shape": (4,), "names": ["x", "y", "z", "gap"]},
        "action": {"dtype": "float32", "shape": (4,), "names": ["dx", "dy", "dz", "grip"]},
        "observation.images.front": {"dtype": "video", "shape": (64, 64, 3), "names": ["height", "width", "channels"]},
        "next.success": {"dtype": "bool", "shape": (1,), "names": None},
        "intervention": {"dtype": "bool", "shape": (1,), "names": None},
    }
    ds = LeRobotDataset.create(REPO_ID, fps=10, features=features, root=root, robot_type="so101", vcodec="h264")
    rng = np.random.default_rng(0)
    written = []
    for ep, (length, success, takeover) in enumerate([(12, True, ()), (8, False, (3, 4, 5)), (15, True, (0,))]):
        for i in range(length):
            ds.add_frame(
                {
                    "observation.state": rng.random(4).astype(np.float32),
                    "action": rng.random(4).astype(np.float32),
                    "observation.images.front": rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                    "next.success": np.array([success and i == length - 1]),
                    "intervention": np.array([i in takeover]),
                    "task": "pick the cube" if ep != 2 else "place the cube",
                }
            )
        ds.save_episode()
        written.append({"length": length, "success": success, "interventions": len(takeover)})
    ds.finalize()
    Path(out).write_text(json.dumps(written))


def act_policy(folder: str) -> None:
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    torch.manual_seed(0)
    config = ACTConfig(
        input_features={
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(4,)),
            "observation.images.front": PolicyFeature(type=FeatureType.VISUAL, shape=(3, 96, 96)),
        },
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(4,))},
        chunk_size=10,
        n_action_steps=5,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        use_vae=False,
        pretrained_backbone_weights=None,
        device="cpu",
    )
    policy = ACTPolicy(config)
    policy.save_pretrained(folder)
    # As a trained policy's folder: processors normalizing with the training data's stats.
    from lerobot.policies.factory import make_pre_post_processors

    stats = {
        "observation.state": {"mean": np.zeros(4), "std": np.ones(4)},
        "observation.images.front": {"mean": np.full((3, 1, 1), 0.5), "std": np.full((3, 1, 1), 0.25)},
        "action": {"mean": np.array([0.0, 0.0, 0.1, 0.0]), "std": np.array([0.5, 0.5, 0.5, 1.0])},
    }
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=stats)
    preprocessor.save_pretrained(folder)
    postprocessor.save_pretrained(folder)


def preprocess(obs_path: str, out: str) -> None:
    from lerobot.envs.utils import preprocess_observation

    saved = np.load(obs_path)
    obs = {"pixels": {k.split("/", 1)[1]: saved[k] for k in saved.files if k.startswith("pixels/")}}
    obs["agent_pos"] = saved["agent_pos"]
    batch = preprocess_observation(obs)
    Path(out).write_text(json.dumps({k: list(v.shape) for k, v in batch.items()}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "load":
        load(args[0], args[1], args[2], [int(a) for a in args[3:]])
    elif command == "record":
        record(args[0], args[1])
    elif command == "act-policy":
        act_policy(args[0])
    elif command == "preprocess":
        preprocess(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command!r}")
