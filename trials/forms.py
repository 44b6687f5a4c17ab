"""Forms of the engineers' pages. Field-level validation with messages an engineer understands;
the services re-check the rules, so the forms are a friendly first line, not the only one."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from accounts.models import MediaRetention, Organization, User
from core.fit import FIT_FACTORS, FIT_RATED_FACTORS, RATING_MAX, RATING_MIN
from policies.models import PolicyVersion
from policies.selectors import policy_version_list_for_user
from robots.models import Robot, RobotKind, Site
from robots.selectors import robot_list_for_user, site_list_for_user
from trials.models import (
    MAX_EPISODES_PER_TRIAL,
    OVERVIEW_FPS_MAX,
    OVERVIEW_PX_MAX,
    OVERVIEW_PX_MIN,
    EventCategory,
    ReviewState,
    SweepDesign,
    Task,
    TaskStatus,
    Trial,
)
from trials.services import TASK_WRITABLE_FIELDS


def _limit_choices(field: forms.Field, queryset: QuerySet[Any]) -> None:
    """Offer only `queryset` in a model choice field (Form.fields types its values as plain Fields)."""
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError(f"{field!r} is not a model choice field")
    field.queryset = queryset


def _positive(value: float | None, what: str) -> float | None:
    if value is not None and value <= 0:
        raise forms.ValidationError(f"{what} must be greater than 0 seconds.")
    return value


class TaskForm(forms.ModelForm):
    """A task and the engineer's fit ratings (fields `fit_<factor key>`)."""

    class Meta:
        model = Task
        fields = TASK_WRITABLE_FIELDS
        widgets = {
            "instruction": forms.TextInput(attrs={"placeholder": "place the bracket in the tray"}),
            "variation_notes": forms.Textarea(attrs={"rows": 2}),
            "safety_notes": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "manual_cycle_time_s": "Manual cycle time (s)",
            "takt_time_s": "Takt time (s)",
            "annual_volume": "Annual volume (parts)",
            "labour_cost_per_hour": "Loaded labour cost per hour",
            "operating_days_per_year": "Operating days per year",
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_choices(self.fields["site"], site_list_for_user(user=user))
        _limit_choices(self.fields["integrator"], Organization.objects.filter(kind=Organization.Kind.INTEGRATOR))
        self.fields["status"].initial = TaskStatus.CANDIDATE
        for name, minimum in (
            ("shifts_per_day", 1),
            ("hours_per_shift", 0),
            ("operating_days_per_year", 1),
            ("operators_per_shift", 0),
            ("labour_cost_per_hour", 0),
            ("annual_volume", 0),
        ):
            self.fields[name].widget.attrs.setdefault("min", minimum)
        self.fields["shifts_per_day"].error_messages.update(
            min_value="Shifts per day must be between 1 and 3.", max_value="Shifts per day must be between 1 and 3."
        )
        self.fields["hours_per_shift"].error_messages.update(
            min_value="Hours per shift must be between 0 and 24.", max_value="Hours per shift must be between 0 and 24."
        )
        saved = (self.instance.fit_factors or {}) if self.instance.pk else {}
        # Cycle time vs takt and volume are computed from the line figures above (core.fit), so
        # they are not offered for rating.
        for factor in FIT_RATED_FACTORS:
            self.fields[f"fit_{factor.key}"] = forms.TypedChoiceField(
                label=factor.label,
                help_text=factor.question,
                choices=[(str(i), f"{i} · {level}") for i, level in enumerate(factor.levels, start=RATING_MIN)],
                coerce=int,
                initial=str(saved.get(factor.key, 3)),
                error_messages={"required": f"Rate {factor.label.lower()} from {RATING_MIN} to {RATING_MAX}."},
            )

    # Min/max validators on the model cover shifts and hours; the strict "> 0" rules are check
    # constraints, whose generic message names a constraint, so they are checked here in words.
    def clean_manual_cycle_time_s(self) -> float | None:
        return _positive(self.cleaned_data.get("manual_cycle_time_s"), "Manual cycle time")

    def clean_takt_time_s(self) -> float | None:
        return _positive(self.cleaned_data.get("takt_time_s"), "Takt time")

    def clean_labour_cost_per_hour(self) -> Any:
        value = self.cleaned_data.get("labour_cost_per_hour")
        if value is not None and value < 0:
            raise forms.ValidationError("Labour cost cannot be negative.")
        return value

    def clean_operators_per_shift(self) -> Any:
        value = self.cleaned_data.get("operators_per_shift")
        if value is not None and value < 0:
            raise forms.ValidationError("Operators per shift cannot be negative.")
        return value

    @property
    def fit_fields(self) -> list[forms.BoundField]:
        return [self[f"fit_{factor.key}"] for factor in FIT_RATED_FACTORS]

    @property
    def derived_factors(self) -> list[Any]:
        return [factor for factor in FIT_FACTORS if factor.derived]

    @property
    def task_fields(self) -> dict[str, Any]:
        """Cleaned values of the task's own fields, for task_create / task_update."""
        return {name: self.cleaned_data[name] for name in TASK_WRITABLE_FIELDS}

    @property
    def fit_ratings(self) -> dict[str, int]:
        return {factor.key: self.cleaned_data[f"fit_{factor.key}"] for factor in FIT_RATED_FACTORS}


class RobotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        kind = "simulated" if obj.kind == "simulated" else "physical"
        return f"{obj.name} ({kind}{', ' + obj.site.name if obj.site else ''})"


class TrialScheduleForm(forms.Form):
    # Empty until __init__ offers the user's own.
    policy_version = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="Policy version")
    robot = RobotChoiceField(
        queryset=Robot.objects.none(),
        help_text="A simulated cell runs on the workers; a physical robot's agent takes the episodes.",
    )
    episodes_planned = forms.IntegerField(
        label="Episodes",
        min_value=1,
        max_value=MAX_EPISODES_PER_TRIAL,
        initial=20,
        error_messages={
            "min_value": f"Episodes must be between 1 and {MAX_EPISODES_PER_TRIAL:,}.",
            "max_value": f"Episodes must be between 1 and {MAX_EPISODES_PER_TRIAL:,}.",
        },
    )
    seed = forms.IntegerField(
        min_value=0,
        initial=0,
        help_text="Episode i of the trial runs with seed + i, so the same seed repeats the same scenes.",
        error_messages={"min_value": "The seed must be zero or positive."},
    )
    instruction = forms.CharField(
        max_length=500, required=False, help_text="Leave empty to use the task's instruction."
    )
    episode_timeout_s = forms.FloatField(label="Episode timeout (s)", initial=60.0)
    # Recording (every episode): blank takes the model's default (the overview) or the organization's
    # setting (retention).
    overview_px = forms.IntegerField(
        label="Overview size (px)",
        required=False,
        min_value=OVERVIEW_PX_MIN,
        max_value=OVERVIEW_PX_MAX,
        initial=Trial._meta.get_field("overview_px").default,
        help_text="The overview camera's square image; the policy's own cameras are recorded at full rate anyway.",
        error_messages={
            "min_value": f"The overview size must be between {OVERVIEW_PX_MIN} and {OVERVIEW_PX_MAX} px.",
            "max_value": f"The overview size must be between {OVERVIEW_PX_MIN} and {OVERVIEW_PX_MAX} px.",
        },
    )
    overview_fps = forms.FloatField(
        label="Overview frames per second",
        required=False,
        min_value=0,
        max_value=OVERVIEW_FPS_MAX,
        initial=Trial._meta.get_field("overview_fps").default,
        help_text="Per simulated second; 0 records no overview.",
        error_messages={
            "min_value": f"The overview frame rate must be between 0 and {OVERVIEW_FPS_MAX:g} fps.",
            "max_value": f"The overview frame rate must be between 0 and {OVERVIEW_FPS_MAX:g} fps.",
        },
    )
    media_retention = forms.ChoiceField(
        label="Keep recordings",
        required=False,
        choices=[("", "The organization's setting"), *MediaRetention.choices],
    )
    media_keep_successes = forms.IntegerField(
        label="Successes kept",
        required=False,
        min_value=0,
        help_text="N for 'failures and the first N successes'; blank: the organization's.",
        error_messages={"min_value": "The successes kept must be zero or more."},
    )

    def __init__(self, *args: Any, user: User, task: Task, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Kept typed here too: the view says "no versions" / "no robots" from them.
        self.versions = policy_version_list_for_user(user=user)
        self.robots = robot_list_for_user(user=user)
        _limit_choices(self.fields["policy_version"], self.versions)
        _limit_choices(self.fields["robot"], self.robots)
        self.fields["instruction"].widget.attrs["placeholder"] = task.instruction
        self.initial.setdefault("instruction", task.instruction)
        for name, offered in (("policy_version", self.versions), ("robot", self.robots)):
            # One choice: start on it rather than on "---------".
            choices = list(offered.values_list("pk", flat=True)[:2])
            if len(choices) == 1:
                self.initial.setdefault(name, choices[0])

    def clean_episode_timeout_s(self) -> float | None:
        return _positive(self.cleaned_data.get("episode_timeout_s"), "The episode timeout")

    @property
    def recording_settings(self) -> dict[str, Any]:
        """trial_schedule's recording arguments from the cleaned data, blanks at their defaults."""
        data = self.cleaned_data
        px, fps = data.get("overview_px"), data.get("overview_fps")
        return {
            "overview_px": px if px is not None else Trial._meta.get_field("overview_px").default,
            "overview_fps": fps if fps is not None else Trial._meta.get_field("overview_fps").default,
            "media_retention": data.get("media_retention") or "",
            "media_keep_successes": data.get("media_keep_successes"),
        }


class TaskFilterForm(forms.Form):
    """The task list's search, filters and ordering (GET)."""

    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search name, station, part…"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TaskStatus.choices])
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="Any site")
    order = forms.ChoiceField(
        required=False,
        choices=[
            ("fit", "Best fit first"),
            ("payback", "Expected payback (soonest first)"),
            ("name", "Name"),
            ("volume", "Volume"),
            ("newest", "Newest"),
        ],
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_choices(self.fields["site"], site_list_for_user(user=user))


STAGE_NOT_REPORTED = "none"


class EpisodeFilterForm(forms.Form):
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "Any outcome"), ("success", "Success"), ("failure", "Failure"), ("aborted", "Aborted")],
    )
    faults = forms.ChoiceField(
        required=False,
        label="Faults",
        choices=[("", "With or without faults"), ("yes", "With faults"), ("no", "Without faults")],
    )
    category = forms.ChoiceField(
        required=False,
        label="Event category",
        choices=[("", "Any event category"), *EventCategory.choices],
    )

    stage = forms.ChoiceField(required=False, label="Stage reached")
    review = forms.ChoiceField(required=False, label="Review", choices=[("", "Reviewed or not"), *ReviewState.choices])

    def __init__(self, *args: Any, stages: list[str] | tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The trial's own stage names: "stage=3" means the episode got as far as the third and no further.
        cast("forms.ChoiceField", self.fields["stage"]).choices = [
            ("", "Any stage"),
            (STAGE_NOT_REPORTED, "Stage not reported"),
            ("0", "No stage reached"),
            *((str(i), f"Got as far as: {name}") for i, name in enumerate(stages, start=1)),
        ]

    @property
    def has_faults(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("faults", "")) if self.is_valid() else None

    @property
    def stage_reached(self) -> int | None | str:
        """The stage filter: a count of stages reached, None for episodes that reported none, "" for any."""
        value = self.cleaned_data.get("stage", "") if self.is_valid() else ""
        if value == STAGE_NOT_REPORTED:
            return None
        return int(value) if value else ""


class EpisodeCsvUploadForm(forms.Form):
    """The browser's CSV upload: one of the caller's trials (known per request) and the file."""

    trial: forms.ModelChoiceField[Trial] = forms.ModelChoiceField(
        queryset=Trial.objects.none(), help_text="Trials on your organization's robots."
    )
    file = forms.FileField(help_text="CSV in the template layout; at most 1,000 episodes per file.")

    def __init__(self, *args: Any, trials: QuerySet[Trial], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.fields holds per-form copies of the declared fields, typed only as Field.
        cast("forms.ModelChoiceField[Trial]", self.fields["trial"]).queryset = trials


def factor_levels_parse(text: str) -> dict[str, list[float | str]]:
    """Lines "factor_key: level, level" as {key: [levels]}; a level that reads as a number is a number
    (the cell's own rules check them next). Raises forms.ValidationError for a line without "key:"."""
    parsed: dict[str, list[float | str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, colon, rest = line.partition(":")
        if not colon or not key.strip():
            raise forms.ValidationError(
                f'Line {number}: write "factor_key: level, level", e.g. light_intensity: 0.4, 1.5.'
            )
        levels: list[float | str] = []
        for raw in (part.strip() for part in rest.split(",")):
            if not raw:
                continue
            try:
                levels.append(float(raw))
            except ValueError:
                levels.append(raw)
        parsed[key.strip()] = levels
    return parsed


class SweepScheduleForm(forms.Form):
    name = forms.CharField(max_length=200, initial="Lighting and camera")
    policy_version = forms.ModelChoiceField(queryset=PolicyVersion.objects.none(), label="Policy version")
    robot = RobotChoiceField(queryset=Robot.objects.none(), help_text="A simulated cell: its factors are listed below.")
    design = forms.ChoiceField(choices=SweepDesign.choices, initial=SweepDesign.ONE_AT_A_TIME)
    factors = forms.CharField(
        label="Factors and levels",
        widget=forms.Textarea(attrs={"rows": 4}),
        initial="light_intensity: 0.4, 1.5\ncamera_shift_m: 0.02",
        help_text='One factor a line, "factor_key: level, level". Nominal always runs as a condition of its own.',
    )
    episodes_per_condition = forms.IntegerField(min_value=1, max_value=MAX_EPISODES_PER_TRIAL, initial=20)
    seed = forms.IntegerField(
        min_value=0,
        initial=0,
        help_text="Episode i of every condition runs with seed + i: differences between conditions are paired.",
        error_messages={"min_value": "The seed must be zero or positive."},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = policy_version_list_for_user(user=user)
        self.robots = robot_list_for_user(user=user).filter(kind=RobotKind.SIMULATED)
        _limit_choices(self.fields["policy_version"], self.versions)
        _limit_choices(self.fields["robot"], self.robots)

    def clean_factors(self) -> dict[str, list[float | str]]:
        return factor_levels_parse(self.cleaned_data.get("factors") or "")
