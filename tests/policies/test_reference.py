"""The committed reference VLA artifacts: the ONNX export matches the torch model, the runtime loads
them, the reported success rates are reproducible, and the demo can register them. No torch needed:
the torch model's outputs were saved next to the artifact by `make reference-policy`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from core.policy import onnx_runtime
from core.sim import Observation, cell_make
from policies.models import PolicyVersion
from policies.reference.evaluate import (
    ARTIFACTS,
    artifact_paths,
    eval_instruction,
    reference_load,
    success_rate,
)
from policies.services import REFERENCE_POLICY_NAME, reference_policy_version_ensure

CELLS = ["tabletop-reach-2d", "factory-kitting"]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    onnx_runtime.cache_clear()


@pytest.mark.parametrize("cell_key", CELLS)
def test_committed_artifact_and_card_agree(cell_key: str) -> None:
    model, card_path = artifact_paths(cell_key)
    card = json.loads(card_path.read_text())
    data = model.read_bytes()
    assert card["sha256"] == hashlib.sha256(data).hexdigest() and card["size_bytes"] == len(data)
    assert len(data) < 10 * 1024 * 1024  # "a few MB", committed to git


@pytest.mark.parametrize("cell_key", CELLS)
def test_onnx_export_matches_torch_model_outputs(cell_key: str) -> None:
    policy, _ = reference_load(cell_key)
    fixture = np.load(ARTIFACTS / f"{cell_key}-parity.npz")
    camera = policy.spec.images[0].camera
    for image, state, instruction, expected in zip(
        fixture["images"], fixture["states"], fixture["instructions"], fixture["torch_actions"], strict=True
    ):
        obs = Observation(images={camera: image}, state=state, instruction=str(instruction))
        action = policy.episode(instruction=str(instruction)).act(obs)
        np.testing.assert_allclose(action, expected, atol=1e-4)


@pytest.mark.parametrize("cell_key", CELLS)
def test_export_has_dynamic_batch(cell_key: str) -> None:
    policy, _ = reference_load(cell_key)
    fixture = np.load(ARTIFACTS / f"{cell_key}-parity.npz")
    camera = policy.spec.images[0].camera
    feeds = [
        policy.episode(instruction=str(t)).feeds(Observation(images={camera: i}, state=s, instruction=str(t)))
        for i, s, t in zip(fixture["images"], fixture["states"], fixture["instructions"], strict=True)
    ]
    batch = {name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]}
    out = policy.infer(batch)
    assert out.shape == (len(feeds), 1, policy.spec.action.dim)
    np.testing.assert_allclose(out[:, 0], fixture["torch_actions"], atol=1e-4)


@pytest.mark.parametrize(("cell_key", "n"), [("tabletop-reach-2d", 20), ("factory-kitting", 5)])
def test_reported_success_rates_are_reproduced_on_held_out_seeds(cell_key: str, n: int) -> None:
    # Re-run the first n held-out seeds (seen and unseen phrasing) through the runtime and compare with the
    # per-seed outcomes the card reports: the published figures come from this artifact, on these seeds.
    policy, card = reference_load(cell_key)
    evaluation = card["evaluation"]
    first = evaluation["held_out_seeds"][0]
    assert first >= 1_000_000  # above every training and DAgger seed
    phrasings = card["training"]["phrasings"]
    unseen_phrasing = evaluation["unseen_phrasing"]["phrasing"]
    assert unseen_phrasing not in phrasings
    cell = cell_make(cell_key)
    for key, unseen in (("seen_phrasings", None), ("unseen_phrasing", unseen_phrasing)):
        reported = evaluation[key]
        assert reported["successes"] == reported["outcomes"].count("S") and len(reported["outcomes"]) >= 30
        result = success_rate(
            cell=cell,
            policy=policy,
            seeds=range(first, first + n),
            instructions=lambda s, u=unseen: eval_instruction(phrasings=phrasings, seed=s, unseen_phrasing=u),
        )
        assert result["outcomes"] == reported["outcomes"][:n]
    cell.close()


@pytest.mark.django_db
def test_reference_policy_version_ensure_registers_once(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    first = reference_policy_version_ensure(cell_key="tabletop-reach-2d")
    again = reference_policy_version_ensure(cell_key="tabletop-reach-2d")
    assert first.pk == again.pk and PolicyVersion.objects.count() == 1
    assert first.policy.name == REFERENCE_POLICY_NAME and first.policy.organization is None
    assert Path(first.artifact.path).read_bytes() == artifact_paths("tabletop-reach-2d")[0].read_bytes()
    assert "success rate" in first.notes
    with pytest.raises(FileNotFoundError):
        reference_policy_version_ensure(cell_key="no-such-cell")


def test_factory_reference_policy_meets_its_target_on_held_out_seeds() -> None:
    # Issue #4: >= 50 % on held-out factory seeds, also with a phrasing never seen in training. The
    # figures are the card's; test_reported_success_rates_are_reproduced_on_held_out_seeds re-runs its
    # seeds through the runtime, so they are the artifact's own.
    card = json.loads(artifact_paths("factory-kitting")[1].read_text())
    for key in ("seen_phrasings", "unseen_phrasing"):
        reported = card["evaluation"][key]
        assert reported["outcomes"].count("S") / len(reported["outcomes"]) >= 0.5, key
    selected = card["training"]["selected_model"]
    assert selected["policy_success_on_training_seeds"] == max(c["policy_success"] for c in selected["candidates"])
