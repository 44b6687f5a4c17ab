"""core/sim/actuation.py: the action noise and actuation delay every cell applies the same way."""

from __future__ import annotations

import numpy as np
import pytest

from core.sim.actuation import ACTION_NOISE, ACTUATION_DELAY, Actuation, actuation_factors
from core.sim.variation import VariationError, levels_validate


def _actuation() -> Actuation:
    return Actuation(low=[-1.0, -1.0, -1.0], high=[1.0, 1.0, 1.0], noisy=[True, True, False], idle=[0.0, 0.0, -1.0])


def test_nominal_levels_pass_the_action_through_untouched() -> None:
    act = _actuation()
    act.reset(seed=3, levels={ACTION_NOISE: 0.0, ACTUATION_DELAY: 0.0})
    action = np.array([0.3, -0.2, 1.0], dtype=np.float32)
    assert act.apply(action) is action


def test_delay_executes_the_idle_action_then_each_action_that_many_steps_late() -> None:
    act = _actuation()
    act.reset(seed=0, levels={ACTUATION_DELAY: 2.0})
    sent = [np.array([k / 10, 0.0, 1.0], dtype=np.float32) for k in range(1, 6)]
    executed = [act.apply(a) for a in sent]
    assert [e.tolist() for e in executed[:2]] == [[0.0, 0.0, -1.0]] * 2
    assert [float(e[0]) for e in executed[2:]] == pytest.approx([0.1, 0.2, 0.3])
    act.reset(seed=0, levels={ACTUATION_DELAY: 2.0})  # a new episode starts with an empty queue
    assert act.apply(sent[4]).tolist() == [0.0, 0.0, -1.0]


def test_noise_is_seeded_scaled_to_the_range_and_spares_the_gripper() -> None:
    act = _actuation()
    draws = []
    for _ in range(2):
        act.reset(seed=11, levels={ACTION_NOISE: 0.1})
        draws.append(np.stack([act.apply(np.zeros(3, dtype=np.float32)) for _ in range(2000)]))
    assert np.array_equal(draws[0], draws[1])
    assert draws[0][:, 2].tolist() == [0.0] * 2000
    # std = 0.1 x the range (2): 0.2, within sampling error for 2000 draws.
    assert draws[0][:, :2].std(axis=0) == pytest.approx([0.2, 0.2], rel=0.08)
    act.reset(seed=12, levels={ACTION_NOISE: 0.1})
    assert not np.array_equal(act.apply(np.zeros(3, dtype=np.float32)), draws[0][0])


def test_actuation_factor_levels_are_validated() -> None:
    factors = actuation_factors(control_dt_s=0.1)
    assert levels_validate(factors, None) == {ACTION_NOISE: 0.0, ACTUATION_DELAY: 0.0}
    with pytest.raises(VariationError) as caught:
        levels_validate(factors, {ACTUATION_DELAY: 11})
    assert caught.value.field == ACTUATION_DELAY
    with pytest.raises(VariationError) as caught:
        levels_validate(factors, {ACTION_NOISE: -0.1})
    assert caught.value.field == ACTION_NOISE
