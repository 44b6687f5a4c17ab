"""The Robots page's registration form. Field-level messages; robots.services.robot_register re-checks."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.models import User
from core.sim import cell_keys
from robots.models import RobotKind, Site
from robots.selectors import site_list_for_user


class RobotRegisterForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "UR5e cell 2"}))
    kind = forms.ChoiceField(
        choices=RobotKind.choices,
        widget=forms.RadioSelect,
        initial=RobotKind.PHYSICAL,
        help_text="A physical robot runs episodes through its agent (it gets a token); a simulated cell runs on the workers.",
    )
    sim_cell_key = forms.ChoiceField(label="Simulation cell", required=False, help_text="Simulated robots only.")
    site: forms.ModelChoiceField[Site] = forms.ModelChoiceField(queryset=None, required=False, empty_label="No site")
    model = forms.CharField(
        max_length=200, required=False, widget=forms.TextInput(attrs={"placeholder": "UR5e + Robotiq 2F-85"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.fields holds per-form copies of the declared fields, typed only as Field.
        cast(forms.ChoiceField, self.fields["sim_cell_key"]).choices = [("", "—"), *((key, key) for key in cell_keys())]
        cast("forms.ModelChoiceField[Site]", self.fields["site"]).queryset = site_list_for_user(user=user)
