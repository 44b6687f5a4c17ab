"""core/sim/sensitivity.py: success per factor level on common seeds, with Wilson intervals."""

from __future__ import annotations

import json

import pytest

from core.policy.onnx_runtime import policy_load
from core.sim import cell_make
from core.sim.sensitivity import REFERENCE_ARTIFACTS, ConditionResult, condition_run, sensitivity_run, table_lines
from core.sim.variation import VariationError


def test_table_counts_and_pairs_against_nominal_by_seed() -> None:
    results = [
        ConditionResult(None, None, (True, True, False, True)),
        ConditionResult("light_intensity", 0.4, (False, True, True, False)),
        ConditionResult("table_texture", "wood", (True, True, False, True)),
    ]
    lines = table_lines(results, units={"light_intensity": "x nominal"})
    # Wilson 95 % for 3/4: 30.1 % to 95.4 %; for 2/4: 15.0 % to 85.0 % (statsmodels proportion_confint).
    assert lines[2] == "| (nominal) | - | 3 / 4 | 75% [30%, 95%] | - |"
    # Seeds 1 and 4 lost (success at nominal, failure here), seed 3 gained.
    assert lines[3] == "| light_intensity | 0.4 x nominal | 2 / 4 | 50% [15%, 85%] | 2 / 1 |"
    assert lines[4] == "| table_texture | wood | 3 / 4 | 75% [30%, 95%] | 0 / 0 |"


def test_sensitivity_runs_every_condition_on_the_same_seeds_with_the_reference_policy() -> None:
    card = json.loads((REFERENCE_ARTIFACTS / "tabletop-reach-2d.json").read_text())
    policy = policy_load(
        path=REFERENCE_ARTIFACTS / "tabletop-reach-2d.onnx", sha256=card["sha256"], io_spec=card["io_spec"]
    )
    cell = cell_make("tabletop-reach-2d")
    seeds = range(1_000_000, 1_000_006)
    results = sensitivity_run(
        cell=cell,
        policy=policy,
        seeds=seeds,
        levels={"actuation_delay": [0.0, 4.0], "table_texture": ["wood"]},  # the 2-D cell has no texture: skipped
    )
    assert [(r.factor, r.level) for r in results] == [(None, None), ("actuation_delay", 0.0), ("actuation_delay", 4.0)]
    assert results[1].outcomes == results[0].outcomes  # delay 0 is nominal, seed for seed
    assert results[0].outcomes == condition_run(cell=cell, policy=policy, seeds=seeds, variation=None)
    assert results[0].successes >= 5  # the reference policy: 96 / 100 on held-out seeds
    assert results[2].successes < results[0].successes
    with pytest.raises(VariationError) as caught:
        sensitivity_run(cell=cell, policy=policy, seeds=seeds, levels={"light_intensity": [0.5, 7.0]})
    assert caught.value.field == "light_intensity"
