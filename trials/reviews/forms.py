"""The review page's forms: one episode's review, and a bulk review of several."""

from __future__ import annotations

from django import forms

from trials.models import EpisodeOutcome
from trials.reviews.services import BULK_MAX_EPISODES, REASON_MAX_CHARS

OUTCOME_CHOICES = [(o.value, o.label) for o in (EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE, EpisodeOutcome.ABORTED)]


class EpisodeReviewForm(forms.Form):
    outcome = forms.ChoiceField(choices=OUTCOME_CHOICES)
    reason = forms.CharField(max_length=REASON_MAX_CHARS, required=False)


class BulkReviewForm(EpisodeReviewForm):
    indexes = forms.TypedMultipleChoiceField(coerce=int, choices=(), error_messages={"required": "Select episodes."})

    def __init__(self, *args: object, indexes: list[int], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["indexes"].choices = [(i, str(i)) for i in indexes]  # type: ignore[attr-defined]

    def clean_indexes(self) -> list[int]:
        value: list[int] = self.cleaned_data["indexes"]
        if len(value) > BULK_MAX_EPISODES:
            raise forms.ValidationError(f"At most {BULK_MAX_EPISODES} episodes at once.")
        return value
