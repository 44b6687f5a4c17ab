from __future__ import annotations

from django import forms


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'rig 3 uploader'.")
    expires_in_days = forms.TypedChoiceField(
        coerce=int,
        choices=[(0, "Never"), (30, "30 days"), (90, "90 days"), (365, "1 year")],
        initial=90,
        label="Expires",
    )
