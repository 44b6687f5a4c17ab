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


class EpisodeCsvUploadForm(forms.Form):
    trial = forms.ModelChoiceField(queryset=None, help_text="Trials on your organization's robots.")  # type: ignore[arg-type]
    file = forms.FileField(help_text="CSV in the template layout; at most 1,000 episodes per file.")

    def __init__(self, *args: object, trials: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["trial"].queryset = trials  # type: ignore[attr-defined]
