"""LeRobotDataset v3.0 export and import speed (issue 17: export 1,000 recorded episodes in <= 60 s on
2 cores with memory flat; import at >= 5,000 frames/s).

Records BENCH_LEROBOT_RECORDINGS factory-kitting episodes once (the scripted expert, with
core.recording), then exports BENCH_LEROBOT_EPISODES episodes cycling over them (each one read from
its trajectory and MP4 as a real export reads it), then reads the dataset back for import. Prints
frames/s and peak RSS, and RSS after a quarter of the episodes against the end (flat memory: the two
differ by little however many episodes)."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

from core.lerobot.dataset_read import dataset_open
from core.lerobot.dataset_write import DatasetWriter, episode_from_recording
from core.recording.recorder import EpisodeRecorder
from core.sim import cell_make
from core.sim.episode import episode_rollout

STATE_NAMES = ["x_m", "y_m", "z_m", "finger_gap"]
ACTION_NAMES = ["dx", "dy", "dz", "grip"]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    episodes = int(os.environ.get("BENCH_LEROBOT_EPISODES", "1000"))
    recordings = int(os.environ.get("BENCH_LEROBOT_RECORDINGS", "5"))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        cell = cell_make("factory-kitting")
        folders = []
        for seed in range(recordings):
            episode_rollout(
                cell=cell, act=lambda _obs: cell.expert_action(), seed=seed, recorder=EpisodeRecorder(base / f"r{seed}")
            )
            folders.append(base / f"r{seed}")
        cell.close()
        rss_quarter = 0.0
        started = time.perf_counter()
        with DatasetWriter(
            base / "ds",
            fps=10,
            robot_type="trialbench/factory-kitting",
            state_names=STATE_NAMES,
            action_names=ACTION_NAMES,
            cameras=["front"],
        ) as writer:
            for i in range(episodes):
                writer.add(episode_from_recording(folders[i % recordings], task="put the part in the tray"))
                if i == episodes // 4:
                    rss_quarter = _rss_mb()
            info = writer.close()
        export_s = time.perf_counter() - started
        frames = int(info["total_frames"])
        rss_end = _rss_mb()
        started = time.perf_counter()
        imported = sum(e.length for e in dataset_open(base / "ds").episodes())
        import_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lerobot export: {episodes} episodes, {frames} frames (96 px, 10 fps) in {export_s:.1f} s")
    print(f"lerobot export: {frames / export_s:.0f} frames/s, {episodes / export_s:.1f} episodes/s")
    print(
        f"lerobot export: RSS {rss_quarter:.0f} MB after {episodes // 4 + 1} episodes, {rss_end:.0f} MB at the end; peak {peak_mb:.0f} MB"
    )
    print(f"lerobot import: {imported} frames in {import_s:.2f} s, {imported / import_s:.0f} frames/s")


if __name__ == "__main__":
    main()
