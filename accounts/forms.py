from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Model, QuerySet


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'rig 3 uploader'.")
    expires_in_days = forms.TypedChoiceField(
        coerce=int,
        choices=[(0, "Never"), (30, "30 days"), (90, "90 days"), (365, "1 year")],
        initial=90,
        label="Expires",
    )


class EpisodeCsvUploadForm(forms.Form):
    # The caller's trials are known per request (__init__); typed as Model: accounts may not import trials.
    trial: forms.ModelChoiceField[Model] = forms.ModelChoiceField(
        queryset=None, help_text="Trials on your organization's robots."
    )
    file = forms.FileField(help_text="CSV in the template layout; at most 1,000 episodes per file.")

    def __init__(self, *args: Any, trials: QuerySet[Model], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.fields holds per-form copies of the declared fields, typed only as Field.
        cast("forms.ModelChoiceField[Model]", self.fields["trial"]).queryset = trials
