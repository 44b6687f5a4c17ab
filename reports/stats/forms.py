"""Forms of the statistics pages: acceptance criteria (engineers only) and the trial planner's inputs."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from common.ids import number_from_text
from reports.models import AcceptanceCriteria
from trials.models import EpisodeSource, Task


class AcceptanceCriteriaForm(forms.ModelForm):
    """FAT/SAT/run-off criteria of one task; at least one criterion must be required."""

    class Meta:
        model = AcceptanceCriteria
        fields = [
            "name",
            "min_success_lower_bound",
            "confidence",
            "consecutive_without_intervention",
            "mtbi_lower_bound_h",
            "cycle_time_p90_within_takt",
            "applies_to_source",
        ]
        labels = {
            "name": "Acceptance test",
            "min_success_lower_bound": "Minimum success (lower bound, 0-1)",
            "confidence": "Confidence (0.5-0.9999)",
            "consecutive_without_intervention": "Consecutive cycles without intervention",
            "mtbi_lower_bound_h": "MTBI lower bound (h)",
            "cycle_time_p90_within_takt": "Cycle time p90 within takt",
            "applies_to_source": "Applies to",
        }

    def __init__(self, *args: Any, task: Task, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task
        # The model field's choices with its blank choice named (a choices model field gets a ChoiceField).
        applies_to = cast(forms.ChoiceField, self.fields["applies_to_source"])
        applies_to.choices = [("", "Each source, separately"), *EpisodeSource.choices]
        self.fields["min_success_lower_bound"].widget.attrs.update(step="0.01", min="0.01", max="0.99")
        self.fields["confidence"].widget.attrs.update(step="0.01", min="0.5", max="0.99")
        self.fields["mtbi_lower_bound_h"].widget.attrs.update(step="0.1", min="0.1")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        taken = AcceptanceCriteria.objects.filter(task=self.task, name=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("This task already has criteria of that name: edit them instead.")
        return str(name)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("min_success_lower_bound") is None
            and data.get("consecutive_without_intervention") is None
            and data.get("mtbi_lower_bound_h") is None
            and not data.get("cycle_time_p90_within_takt")
        ):
            raise forms.ValidationError("Require at least one criterion.")
        return data


def _share_field(*, label: str, initial: float, help_text: str = "") -> forms.FloatField:
    """A share between 0.5 and 0.9999 whose error names the field and shows an example."""
    # Django %-formats error messages with the field's limit, hence the doubled percent sign.
    message = (
        f"{label} must be a share between 0.5 and 0.9999 ({initial:g} is {initial * 100:g} %)".replace("%", "%%") + "."
    )
    return forms.FloatField(
        min_value=0.5,
        max_value=0.9999,
        initial=initial,
        label=label,
        help_text=help_text,
        error_messages={"min_value": message, "max_value": message},
    )


class PlannerForm(forms.Form):
    """The planner's question: episodes to show success >= target at confidence with up to c failures."""

    target = _share_field(label="Success at least", initial=0.9, help_text="A share: 0.9 is 90 %.")
    confidence = _share_field(label="Confidence", initial=0.95)
    failures = forms.IntegerField(
        min_value=0,
        max_value=1000,
        initial=0,
        label="Failures allowed",
        error_messages={
            "min_value": "Failures allowed must be between 0 and 1,000.",
            "max_value": "Failures allowed must be between 0 and 1,000.",
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # The server checks the range and names it; a browser clamping or refusing the value silently
            # (step mismatch, out of range) would hide that.
            field.widget.attrs.update(step="any")
            field.widget.attrs.pop("max", None)
            field.widget.attrs.pop("min", None)


# The pickers list the most recent trials; older ones are still reachable with ?a=&b= in the URL.
COMPARE_CHOICES_MAX = 200


class CompareForm(forms.Form):
    """Two trials, A (baseline) and B, picked from the trials the user may see (newest first)."""

    a = forms.TypedChoiceField(coerce=int, label="Trial A (baseline)")
    b = forms.TypedChoiceField(coerce=int, label="Trial B")

    def __init__(self, *args: Any, trials: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rows = trials.select_related("task", "policy_version__policy").order_by("-created_at", "-pk")
        choices = [
            (
                str(t.pk),
                f"#{t.pk} · {t.task.name} · {t.policy_version.policy.name} {t.policy_version.version} · {t.get_status_display().lower()}",
            )
            for t in rows[:COMPARE_CHOICES_MAX]
        ]
        for name in ("a", "b"):
            picked = self.data.get(name) if self.is_bound else None
            extra = []
            number = number_from_text(picked) if isinstance(picked, str) else None
            if number is not None and picked not in {c[0] for c in choices}:
                # An older trial named in the URL: offered if the user may see it.
                older = rows.filter(pk=number).first()
                if older is not None:
                    extra = [(str(older.pk), f"#{older.pk} · {older.task.name}")]
            field = cast(forms.TypedChoiceField, self.fields[name])  # a and b above
            field.choices = [("", "Choose a trial…"), *choices, *extra]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("a") is not None and data.get("a") == data.get("b"):
            raise forms.ValidationError("Choose two different trials.")
        return data


def _rate_field(*, label: str, initial: float | None, required: bool = True, help_text: str = "") -> forms.FloatField:
    """A share strictly between 0 and 1 whose error names the field."""
    message = f"{label} must be a share between 0.0001 and 0.9999 (0.75 is 75 %%)."
    return forms.FloatField(
        min_value=0.0001,
        max_value=0.9999,
        initial=initial,
        required=required,
        label=label,
        help_text=help_text,
        error_messages={"min_value": message, "max_value": message, "required": f"{label} is required."},
    )


class PairedPlannerForm(forms.Form):
    """The paired planner's question: seeds both versions must run to tell rate B from rate A with a power
    (two-sided alpha 0.05); the discordance is the share of seeds the two would decide differently."""

    rate_a = _rate_field(label="Success of A (baseline)", initial=0.6)
    rate_b = _rate_field(label="Success of B", initial=0.75)
    discordance = _rate_field(
        label="Seeds decided differently",
        initial=None,
        required=False,
        help_text="A share; blank: assume A's and B's outcomes on a seed are independent.",
    )
    power = _share_field(label="Power", initial=0.8)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # As the planner: the server checks the range and names the field.
            field.widget.attrs.update(step="any")
            field.widget.attrs.pop("max", None)
            field.widget.attrs.pop("min", None)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("rate_a") is not None and data.get("rate_a") == data.get("rate_b"):
            self.add_error("rate_b", "Success of B must differ from success of A: equal rates need no test.")
        return data
