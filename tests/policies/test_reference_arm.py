"""The committed reference VLA of the arm cell (factory-kitting-arm): it passes the upload checks, the ONNX
export matches the torch model's saved outputs, and the card's per-seed outcomes are reproduced on its
first held-out seeds. No torch: `make reference-policy` saved the torch outputs beside the artifact."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from core.policy import onnx_runtime
from core.policy.text_encoder import sentence_encoder
from core.sim import Observation
from core.sim.cells.factory_kitting_arm.task import PART_NAMES, PART_SYNONYMS, PHRASINGS, instruction_part
from policies.reference.arm_eval import (
    KEY,
    PART_DESCRIPTIONS,
    UNSEEN_INSTRUCTIONS,
    eval_episode,
    evaluate_seeds,
    prototypes,
)
from policies.reference.evaluate import ARTIFACTS, HELD_OUT_SEED_BASE, artifact_paths, reference_load
from policies.services import policy_artifact_check

FIRST_SEEDS = 5


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    onnx_runtime.cache_clear()


def _card() -> dict:
    return json.loads(artifact_paths(KEY)[1].read_text())


def test_committed_artifact_passes_the_upload_checks_and_matches_its_card() -> None:
    model, _ = artifact_paths(KEY)
    card = _card()
    data, check = policy_artifact_check(file=model.read_bytes(), io_spec=card["io_spec"])
    assert check.sha256 == card["sha256"] == hashlib.sha256(data).hexdigest()
    assert check.size_bytes == card["size_bytes"] < 5 * 1024 * 1024  # a few MB; the encoder is not inside
    assert card["io_spec"]["instruction"]["encoding"] == onnx_runtime.MINILM_ENCODING


def test_onnx_export_matches_torch_model_outputs() -> None:
    policy, _ = reference_load(KEY)
    fixture = np.load(ARTIFACTS / f"{KEY}-parity.npz")
    cameras = [image["camera"] for image in _card()["io_spec"]["images"]]
    assert cameras == ["front", "wrist"]
    for front, wrist, state, instruction, expected in zip(
        fixture["images"],
        fixture["wrist_images"],
        fixture["states"],
        fixture["instructions"],
        fixture["torch_actions"],
        strict=True,
    ):
        obs = Observation(images={"front": front, "wrist": wrist}, state=state, instruction=str(instruction))
        action = policy.episode(instruction=str(instruction)).act(obs)
        np.testing.assert_allclose(action, expected, atol=1e-4)


def test_card_lists_every_target_row_with_n_and_interval() -> None:
    evaluation = _card()["evaluation"]
    assert evaluation["held_out_seeds"][0] == HELD_OUT_SEED_BASE
    for row in ("nominal", "unseen_phrasings", "perturbed"):
        reported = evaluation[row]
        assert reported["episodes"] == len(reported["outcomes"]) == 200
        assert reported["successes"] == reported["outcomes"].count("S")
        low, high = reported["wilson_95"]
        assert low <= reported["success_rate"] <= high
    assert sum(r["episodes"] for r in evaluation["per_part_nominal"].values()) == 200
    assert evaluation["hold_after_success_s"] == 3.0


def test_unseen_phrasings_are_not_training_phrasings_and_name_their_part_by_synonym() -> None:
    training = {p.format(part=part) for p in PHRASINGS for part in ("bracket", "bolt", "box")}
    assert not training & set(UNSEEN_INSTRUCTIONS)
    assert all(instruction_part(t) is not None for t in UNSEEN_INSTRUCTIONS)
    assert instruction_part("put the orange cube into its pocket") == "box"


def test_part_prototypes_pick_the_part_of_every_unseen_instruction_without_its_synonyms() -> None:
    synonyms = {word for words in PART_SYNONYMS.values() for word in words}
    assert not any(word in text for texts in PART_DESCRIPTIONS.values() for text in texts for word in synonyms)
    directions, centre = prototypes()
    centred = sentence_encoder().encode(list(UNSEEN_INSTRUCTIONS)) - centre
    chosen = [PART_NAMES[i] for i in (centred @ directions.T).argmax(axis=1)]
    assert chosen == [instruction_part(text) for text in UNSEEN_INSTRUCTIONS]


@pytest.mark.parametrize("row", ["nominal", "unseen_phrasings", "perturbed"])
def test_card_outcomes_are_reproduced_on_the_first_held_out_seeds(row: str) -> None:
    # The first FIRST_SEEDS seeds, plus the first two the card reports as successes (so a policy that
    # fails everywhere cannot pass by failing the same way).
    card = _card()
    outcomes = card["evaluation"][row]["outcomes"]
    indexes = sorted({*range(FIRST_SEEDS), *[i for i, o in enumerate(outcomes) if o == "S"][:2]})
    seeds = [HELD_OUT_SEED_BASE + i for i in indexes]
    model = (artifact_paths(KEY)[0].read_bytes(), card["io_spec"])
    results = evaluate_seeds(row, seeds, model, 0)
    assert "".join("S" if r["success"] else "F" for r in results) == "".join(outcomes[i] for i in indexes)
    assert "S" in outcomes[: max(indexes) + 1]
    assert all(eval_episode(row, s)[0] for s in seeds)
