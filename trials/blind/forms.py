"""The engineer's form for scheduling a blind A/B comparison (the task page's link)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import User
from policies.models import PolicyVersion
from policies.selectors import policy_version_list_for_user
from robots.models import Robot, RobotKind
from robots.selectors import robot_list_for_user
from trials.forms import RobotChoiceField, _limit_choices
from trials.models import MAX_EPISODES_PER_TRIAL


class BlindComparisonForm(forms.Form):
    version_a = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="Version A")
    version_b = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="Version B")
    robot = RobotChoiceField(queryset=Robot.objects.none(), help_text="A physical robot: its agent runs the pairs.")
    pairs = forms.IntegerField(
        min_value=1,
        max_value=MAX_EPISODES_PER_TRIAL,
        initial=10,
        help_text="Each pair is one episode of A and one of B, back to back, in a random order.",
    )
    seed = forms.IntegerField(
        min_value=0,
        initial=0,
        help_text="Both episodes of pair i run with seed + i.",
        error_messages={"min_value": "The seed must be zero or positive."},
    )
    episode_timeout_s = forms.FloatField(min_value=0.001, max_value=86_400, initial=60.0, label="Episode timeout (s)")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = policy_version_list_for_user(user=user).filter(kind="onnx")
        self.robots = robot_list_for_user(user=user).filter(kind=RobotKind.PHYSICAL)
        for name in ("version_a", "version_b"):
            _limit_choices(self.fields[name], self.versions)
        _limit_choices(self.fields["robot"], self.robots)
