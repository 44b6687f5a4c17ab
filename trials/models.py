from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage, storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import MediaRetention, Organization
from policies.models import PolicyVersion
from robots.models import Robot, Site

MAX_EPISODES_PER_TRIAL = 10_000
# Overview camera bounds and defaults: core.recording.recorder says how the defaults were measured.
OVERVIEW_PX_MIN, OVERVIEW_PX_MAX = 16, 720
OVERVIEW_FPS_MAX = 30.0
DEFAULT_OVERVIEW_PX = 96
DEFAULT_OVERVIEW_FPS = 1.0


class TaskStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    TRIALLING = "trialling", "Trialling"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class TrialStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class EpisodeOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    ABORTED = "aborted", "Aborted"
    # Infrastructure (policy server down or erroring, simulator exception, agent crash) ended the attempt:
    # it says nothing about the policy, so it is excluded from every rate, test and ROI input and re-run.
    LOST = "lost", "Lost to infrastructure"


# Outcomes that count as evidence about the policy (every rate, test, claim and ROI input).
COUNTED_OUTCOMES = (EpisodeOutcome.SUCCESS, EpisodeOutcome.FAILURE, EpisodeOutcome.ABORTED)


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "Not reviewed"
    CONFIRMED = "confirmed", "Confirmed"
    OVERRIDDEN = "overridden", "Overridden"


class EpisodeSource(models.TextChoices):
    SIMULATION = "simulation", "Simulation"
    ROBOT_AGENT = "robot_agent", "Robot agent"
    INTEGRATOR_UPLOAD = "integrator_upload", "Integrator upload"


class EventKind(models.TextChoices):
    INTERVENTION = "intervention", "Operator intervention"
    FAULT = "fault", "Fault"
    EXCEPTION = "exception", "Exception"


class EventCategory(models.TextChoices):
    GRASP_MISS = "grasp_miss", "Grasp miss"
    DROP = "drop", "Part dropped"
    COLLISION = "collision", "Collision"
    TIMEOUT = "timeout", "Timeout"
    E_STOP = "e_stop", "Emergency stop"
    PERCEPTION = "perception", "Perception"
    SAFETY_STOP = "safety_stop", "Safety stop"
    POLICY_UNREACHABLE = "policy_unreachable", "Policy server unreachable"
    POLICY_SERVER_ERROR = "policy_server_error", "Policy server error"
    POLICY_ERROR = "policy_error", "Policy gave an unusable action"
    SIMULATOR_ERROR = "simulator_error", "Simulator error"
    AGENT_CRASH = "agent_crash", "Robot agent crashed"
    OTHER = "other", "Other"


class EventSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


class TaskQuerySet(models.QuerySet["Task"]):
    def for_organization(self, organization: Organization | None) -> TaskQuerySet:
        return self.filter(organization=organization)

    def visible_to_organization(self, organization_id: int | None) -> TaskQuerySet:
        """Owned by the organization, or engaging it as integrator."""
        return self.filter(Q(organization_id=organization_id) | Q(integrator_id=organization_id))


class Task(models.Model):
    """A candidate manufacturing task, scoped by an engineer before any trial."""

    Status = TaskStatus

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="tasks")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="tasks", null=True, blank=True)
    integrator = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        related_name="integrated_tasks",
        null=True,
        blank=True,
        help_text="The integrator engaged on this task: it may read the task and run trials of it on its own robots.",
    )
    name = models.CharField(max_length=200)
    station = models.CharField(max_length=200)
    part = models.CharField(max_length=200)
    instruction = models.CharField(
        max_length=500, help_text="What the robot is told, e.g. 'place the bracket in the tray'."
    )
    manual_cycle_time_s = models.FloatField(help_text="Manual cycle time today, seconds per part.")
    takt_time_s = models.FloatField(help_text="Takt time, seconds per part.")
    annual_volume = models.PositiveIntegerField(help_text="Parts per year.")
    shifts_per_day = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    hours_per_shift = models.FloatField(default=8.0, validators=[MinValueValidator(0), MaxValueValidator(24)])
    operating_days_per_year = models.PositiveSmallIntegerField(
        default=230, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    operators_per_shift = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    labour_cost_per_hour = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Loaded labour cost per operator hour (wage x 1.3-1.6)."
    )
    variation_notes = models.TextField(blank=True)
    safety_notes = models.TextField(blank=True)
    fit_factors = models.JSONField(default=dict, blank=True, help_text="Engineer's ratings per fit factor.")
    fit_score = models.FloatField(null=True, blank=True, help_text="0-100, computed from fit_factors.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CANDIDATE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="task_unique_name_per_org"),
            models.CheckConstraint(condition=Q(manual_cycle_time_s__gt=0), name="task_manual_cycle_time_positive"),
            models.CheckConstraint(condition=Q(takt_time_s__gt=0), name="task_takt_time_positive"),
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid"),
            models.CheckConstraint(condition=Q(shifts_per_day__gte=1, shifts_per_day__lte=3), name="task_shifts_1_3"),
            models.CheckConstraint(
                condition=Q(hours_per_shift__gte=0, hours_per_shift__lte=24), name="task_hours_0_24"
            ),
            models.CheckConstraint(condition=Q(operators_per_shift__gte=0), name="task_operators_non_negative"),
            models.CheckConstraint(condition=Q(labour_cost_per_hour__gte=0), name="task_labour_cost_non_negative"),
            models.CheckConstraint(
                condition=Q(fit_score__isnull=True) | Q(fit_score__gte=0, fit_score__lte=100),
                name="task_fit_score_0_100",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="task_org_status_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A day has 24 hours: 3 shifts x 24 h would triple the labour and volume every figure rests on.
        shifts, hours = self.shifts_per_day, self.hours_per_shift
        # Out-of-range values already have their own message (field validators); say one thing at a time.
        in_range = shifts is not None and hours is not None and 1 <= shifts <= 3 and 0 <= hours <= 24
        if in_range and shifts * hours > 24:
            raise ValidationError(
                {
                    "hours_per_shift": f"{self.shifts_per_day} shifts × {self.hours_per_shift:g} h is "
                    f"{self.shifts_per_day * self.hours_per_shift:g} h a day; shifts × hours per shift can be "
                    f"at most 24 h (at most {24 / self.shifts_per_day:g} h per shift)."
                }
            )

    @property
    def currency(self) -> str:
        """ISO 4217 code of the task's money figures: its organization's."""
        return self.organization.currency


class SweepDesign(models.TextChoices):
    GRID = "grid", "Grid (every combination of the levels)"
    ONE_AT_A_TIME = "one_at_a_time", "One factor at a time around nominal"


# A sweep's size: conditions x episodes per condition is what the workers must run.
MAX_SWEEP_CONDITIONS = 64
MAX_SWEEP_EPISODES = 100_000


class SweepQuerySet(models.QuerySet["Sweep"]):
    def for_organization(self, organization: Organization | None) -> SweepQuerySet:
        return self.filter(robot__organization=organization)


class Sweep(models.Model):
    """A robustness sweep: one policy version on one simulated robot under several conditions (factor
    levels), each condition a Trial with the sweep's seed, so episode i of every condition runs seed + i
    (common random numbers) and differences between conditions are paired."""

    Design = SweepDesign

    name = models.CharField(max_length=200)
    task = models.ForeignKey("Task", on_delete=models.PROTECT, related_name="sweeps")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="sweeps")
    robot = models.ForeignKey(Robot, on_delete=models.PROTECT, related_name="sweeps")
    design = models.CharField(max_length=20, choices=Design.choices, default=Design.ONE_AT_A_TIME)
    # Factor key -> the levels swept (nominal is always a condition of its own).
    factors = models.JSONField(default=dict)
    episodes_per_condition = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EPISODES_PER_TRIAL)]
    )
    seed = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SweepQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(design__in=SweepDesign.values), name="sweep_design_valid"),
            models.CheckConstraint(
                condition=Q(episodes_per_condition__gte=1, episodes_per_condition__lte=MAX_EPISODES_PER_TRIAL),
                name="sweep_episodes_per_condition_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Sweep {self.pk}: {self.name}"


# A trial that is an arm of a blind comparison not yet unblinded: which version its episodes ran is sealed.
SEALED = Q(blind__isnull=False, blind__unblinded_at__isnull=True)


class BlindComparisonQuerySet(models.QuerySet["BlindComparison"]):
    def for_organization(self, organization: Organization | None) -> BlindComparisonQuerySet:
        return self.filter(robot__organization=organization)


class BlindComparison(models.Model):
    """A blind A/B comparison of two policy versions on one physical robot (core.blind): each version is a
    Trial (an arm, `Trial.blind`) of `pairs` episodes on the same seeds, and their agent jobs interleave in
    the sealed `order` (per pair, which version runs first). Until `unblinded_at` no page or API response
    says which arm, trial or episode ran which version; it is set when both trials have finished."""

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="blind_comparisons")
    robot = models.ForeignKey(Robot, on_delete=models.PROTECT, related_name="blind_comparisons")
    version_a = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    version_b = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    pairs = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_EPISODES_PER_TRIAL)])
    # The secret seed of the order (drawn by the server; it recomputes the order, so it is sealed too).
    order_seed = models.PositiveBigIntegerField()
    order = models.JSONField(default=list, help_text="Per pair, the version run first: 'A' or 'B'.")
    # Per arm name, the salt of the job-scoped artifact digest (sha256 of salt + file) and that digest.
    arm_digests = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    unblinded_at = models.DateTimeField(null=True, blank=True)

    objects = BlindComparisonQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pairs__gte=1, pairs__lte=MAX_EPISODES_PER_TRIAL), name="blindcomparison_pairs_range"
            ),
            models.CheckConstraint(condition=~Q(version_a=models.F("version_b")), name="blindcomparison_two_versions"),
        ]

    def __str__(self) -> str:
        return f"Blind comparison {self.pk}"

    @property
    def is_sealed(self) -> bool:
        return self.unblinded_at is None


class PreferenceChoice(models.TextChoices):
    A = "A", "Version A"
    B = "B", "Version B"
    TIE = "tie", "No preference"


class BlindPreference(models.Model):
    """The operator's preference over one pair of a blind comparison, mapped server-side from the
    episode order the operator saw (first, second) to the version. One per pair; a later one replaces it."""

    comparison = models.ForeignKey(BlindComparison, on_delete=models.CASCADE, related_name="preferences")
    pair = models.PositiveIntegerField()
    choice = models.CharField(max_length=3, choices=PreferenceChoice.choices)
    operator = models.CharField(max_length=100, blank=True, help_text="Who, as the agent reports it.")
    robot = models.ForeignKey(Robot, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["comparison_id", "pair"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "pair"], name="blindpreference_one_per_pair"),
            models.CheckConstraint(
                condition=Q(choice__in=PreferenceChoice.values), name="blindpreference_choice_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Preference {self.choice} on pair {self.pair} of blind comparison {self.comparison_id}"


class TrialQuerySet(models.QuerySet["Trial"]):
    def for_organization(self, organization: Organization | None) -> TrialQuerySet:
        return self.filter(robot__organization=organization)

    def unsealed(self) -> TrialQuerySet:
        """All but the arms of blind comparisons still sealed (trials.blind)."""
        return self.exclude(SEALED)

    def active(self) -> TrialQuerySet:
        return self.filter(status__in=[TrialStatus.QUEUED, TrialStatus.RUNNING])


class Trial(models.Model):
    """A task x policy version x robot, run for N episodes."""

    Status = TrialStatus

    FINISHED_STATUSES = (TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.CANCELLED)

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="trials")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="trials")
    robot = models.ForeignKey(Robot, on_delete=models.PROTECT, related_name="trials")
    episodes_planned = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EPISODES_PER_TRIAL)]
    )
    seed = models.PositiveBigIntegerField(default=0)
    instruction = models.CharField(max_length=500)
    episode_timeout_s = models.FloatField(default=60.0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    status_message = models.TextField(blank=True)
    # Recording: every simulated episode gets the policy's camera videos, the trajectory and this
    # overview camera (0 fps: no overview).
    overview_px = models.PositiveSmallIntegerField(
        default=DEFAULT_OVERVIEW_PX,
        validators=[MinValueValidator(OVERVIEW_PX_MIN), MaxValueValidator(OVERVIEW_PX_MAX)],
        help_text="Overview camera size in pixels (square).",
    )
    overview_fps = models.FloatField(
        default=DEFAULT_OVERVIEW_FPS,
        validators=[MinValueValidator(0.0), MaxValueValidator(OVERVIEW_FPS_MAX)],
        help_text="Overview camera frames per simulated second (0: no overview).",
    )
    media_retention = models.CharField(
        max_length=20,
        choices=MediaRetention.choices,
        blank=True,
        help_text="Which recordings to keep; blank: the organization's setting.",
    )
    media_keep_successes = models.PositiveIntegerField(
        null=True, blank=True, help_text="N for 'failures and the first N successes'; blank: the organization's."
    )
    # Variation factor levels (core.sim.variation; {} = nominal), passed to every episode's reset.
    variation = models.JSONField(default=dict, blank=True)
    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="conditions", null=True, blank=True)
    sweep_label = models.CharField(max_length=200, blank=True, help_text="The condition's name in its sweep.")
    # One arm of a blind A/B comparison (trials.blind): sealed, so absent from every page and API, until
    # the comparison is unblinded. `blind_arm` is the neutral name its agent jobs carry ("arm-1", "arm-2").
    blind = models.ForeignKey("BlindComparison", on_delete=models.CASCADE, related_name="arms", null=True, blank=True)
    blind_arm = models.CharField(max_length=10, blank=True)
    # The task's ordered stages (the cell's, or what an agent or integrator reports); Episode.stage_reached
    # counts how many of them an episode reached.
    stages = models.JSONField(default=list, blank=True)
    # Preflight before the first episode: {"passed": bool, "checks": [{"name", "passed", "detail"}]}.
    preflight = models.JSONField(default=dict, blank=True)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TrialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(episodes_planned__gte=1, episodes_planned__lte=MAX_EPISODES_PER_TRIAL),
                name="trial_episodes_planned_range",
            ),
            models.CheckConstraint(condition=Q(episode_timeout_s__gt=0), name="trial_episode_timeout_positive"),
            models.CheckConstraint(condition=Q(status__in=TrialStatus.values), name="trial_status_valid"),
            models.CheckConstraint(
                condition=Q(overview_px__gte=OVERVIEW_PX_MIN, overview_px__lte=OVERVIEW_PX_MAX),
                name="trial_overview_px_range",
            ),
            models.CheckConstraint(
                condition=Q(overview_fps__gte=0, overview_fps__lte=OVERVIEW_FPS_MAX), name="trial_overview_fps_range"
            ),
            models.CheckConstraint(
                condition=Q(media_retention="") | Q(media_retention__in=MediaRetention.values),
                name="trial_media_retention_valid",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(finished_at__gte=models.F("started_at")),
                name="trial_finished_after_started",
            ),
        ]
        indexes = [
            models.Index(fields=["task", "status"], name="trial_task_status_idx"),
            models.Index(fields=["robot", "status"], name="trial_robot_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Trial {self.pk}: {self.task} / {self.policy_version}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    @property
    def retention(self) -> tuple[str, int]:
        """(MediaRetention value, N successes kept): the trial's own setting, else its organization's."""
        org = self.robot.organization
        keep = self.media_keep_successes if self.media_keep_successes is not None else org.media_keep_successes
        return (self.media_retention or org.media_retention, keep)


class EpisodeQuerySet(models.QuerySet["Episode"]):
    def successful(self) -> EpisodeQuerySet:
        return self.filter(outcome=EpisodeOutcome.SUCCESS)

    def counted(self) -> EpisodeQuerySet:
        """Episodes that are evidence about the policy: all but those lost to infrastructure."""
        return self.exclude(outcome=EpisodeOutcome.LOST)

    def lost(self) -> EpisodeQuerySet:
        return self.filter(outcome=EpisodeOutcome.LOST)

    def unsealed(self) -> EpisodeQuerySet:
        """All but the episodes of blind comparisons' arms still sealed (trials.blind)."""
        return self.exclude(trial__blind__isnull=False, trial__blind__unblinded_at__isnull=True)


class Episode(models.Model):
    """One attempt of the task within a trial."""

    Outcome = EpisodeOutcome

    Source = EpisodeSource

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="episodes")
    index = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    cycle_time_s = models.FloatField(help_text="Seconds from start to end of the attempt.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    source = models.CharField(max_length=20, choices=Source.choices)
    # NULL, not "", when absent: the unique (trial, external_id) constraint applies only to real ids.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    metrics = models.JSONField(default=dict, blank=True)
    # Review: `outcome` is the outcome every figure counts (the reviewed one where there is a review);
    # `detected_outcome` keeps what the cell, agent or upload reported, set by the first review.
    detected_outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    review_state = models.CharField(max_length=20, choices=ReviewState.choices, default=ReviewState.UNREVIEWED)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # How far it got: how many of the trial's stages it reached (null: not reported), when it reached
    # each (simulated seconds since the start, one per stage reached), and progress in [0, 1].
    stage_reached = models.PositiveSmallIntegerField(null=True, blank=True)
    stage_times_s = models.JSONField(default=list, blank=True)
    progress = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EpisodeQuerySet.as_manager()

    class Meta:
        ordering = ["trial_id", "index"]
        constraints = [
            # One counted episode per index; lost attempts at that index (re-run with the same seed) stay
            # beside it as history.
            models.UniqueConstraint(
                fields=["trial", "index"],
                condition=~Q(outcome=EpisodeOutcome.LOST),
                name="episode_unique_counted_index_per_trial",
            ),
            models.UniqueConstraint(
                fields=["trial", "external_id"],
                condition=Q(external_id__isnull=False),
                name="episode_unique_external_id_per_trial",
            ),
            models.CheckConstraint(condition=Q(cycle_time_s__gte=0), name="episode_cycle_time_non_negative"),
            models.CheckConstraint(condition=Q(outcome__in=EpisodeOutcome.values), name="episode_outcome_valid"),
            models.CheckConstraint(condition=Q(source__in=EpisodeSource.values), name="episode_source_valid"),
            models.CheckConstraint(condition=Q(ended_at__gte=models.F("started_at")), name="episode_ends_after_start"),
            models.CheckConstraint(condition=Q(review_state__in=ReviewState.values), name="episode_review_state_valid"),
            models.CheckConstraint(
                condition=Q(detected_outcome="") | Q(detected_outcome__in=EpisodeOutcome.values),
                name="episode_detected_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress__isnull=True) | Q(progress__gte=0, progress__lte=1), name="episode_progress_0_1"
            ),
        ]
        indexes = [
            models.Index(fields=["trial", "outcome"], name="episode_trial_outcome_idx"),
            models.Index(fields=["trial", "review_state"], name="episode_trial_review_idx"),
        ]

    def __str__(self) -> str:
        return f"Episode {self.index} of trial {self.trial_id}"

    @property
    def original_outcome(self) -> str:
        """The outcome as reported, before any review."""
        return self.detected_outcome or self.outcome


class EpisodeEvent(models.Model):
    """An intervention, fault or exception inside an episode."""

    Kind = EventKind

    Category = EventCategory

    Severity = EventSeverity

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    category = models.CharField(max_length=30, choices=Category.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    t_offset_s = models.FloatField(help_text="Seconds since the start of the episode.")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["episode_id", "t_offset_s"]
        constraints = [
            models.CheckConstraint(condition=Q(t_offset_s__gte=0), name="event_offset_non_negative"),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
            models.CheckConstraint(condition=Q(severity__in=EventSeverity.values), name="event_severity_valid"),
            models.CheckConstraint(
                condition=Q(category__in=EventCategory.values),
                name="event_category_valid",
            ),
        ]
        indexes = [models.Index(fields=["episode", "category"], name="event_episode_category_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_category_display()} at {self.t_offset_s:.1f}s"


class TrialSourceSummary(models.Model):
    """Running totals of one trial's episodes from one evidence source, so reports over millions of episodes
    read one row per trial and source instead of scanning Episode and EpisodeEvent.

    Kept by trials.services (episodes_record adds the rows it inserts, in the same transaction; rebuilt
    from the episodes by trial_summaries_rebuild / `manage.py trial_summaries_rebuild`). `revision` rises
    with every change, so a cache keyed on it is never stale. Sums are floats like Episode.cycle_time_s."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="source_summaries")
    source = models.CharField(max_length=20, choices=EpisodeSource.choices)
    episodes = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    cycle_time_sum_s = models.FloatField(default=0.0, help_text="Sum of the episodes' cycle times (s).")
    cycle_time_sq_sum_s2 = models.FloatField(default=0.0, help_text="Sum of the squared cycle times (s^2).")
    interventions = models.PositiveIntegerField(default=0, help_text="Events of kind intervention.")
    lost = models.PositiveIntegerField(
        default=0, help_text="Attempts lost to infrastructure: not in episodes, successes or any sum above."
    )
    reviewed = models.PositiveIntegerField(default=0, help_text="Counted episodes a person has reviewed.")
    revision = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["trial_id", "source"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "source"], name="trialsourcesummary_unique_trial_source"),
            models.CheckConstraint(
                condition=Q(source__in=EpisodeSource.values), name="trialsourcesummary_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(successes__lte=models.F("episodes")), name="trialsourcesummary_successes_le_episodes"
            ),
        ]

    def __str__(self) -> str:
        return f"Trial {self.trial_id} {self.source}: {self.episodes} episodes"


class ChunkState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class TrialChunk(models.Model):
    """A slice [first_index, stop_index) of a simulated trial's episodes, run by one Celery task.

    Its lease (heartbeat_at, renewed by the running worker) lets the reaper (trials.runner.chunks_reap)
    re-enqueue a chunk whose worker died: the filesystem broker never redelivers, Redis only after the
    visibility timeout."""

    State = ChunkState

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="chunks")
    first_index = models.PositiveIntegerField()
    stop_index = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker has claimed it.")
    claim = models.CharField(max_length=64, blank=True, help_text="Token of the worker holding the lease.")
    enqueued_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When a failed attempt's retry message is due. The message lives in a worker's memory during its
    # countdown; if that worker dies, the reaper re-enqueues the chunk a lease after this time.
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["trial_id", "first_index"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "first_index"], name="trialchunk_unique_first_index"),
            models.CheckConstraint(condition=Q(stop_index__gt=models.F("first_index")), name="trialchunk_non_empty"),
            models.CheckConstraint(condition=Q(state__in=ChunkState.values), name="trialchunk_state_valid"),
        ]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="trialchunk_state_heartbeat_idx")]

    def __str__(self) -> str:
        return f"Trial {self.trial_id} episodes {self.first_index}-{self.stop_index - 1}"


class EpisodeReview(models.Model):
    """One review of an episode's outcome: the audit trail (who, when, before, after, why). Never edited."""

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    outcome_before = models.CharField(max_length=20, choices=EpisodeOutcome.choices)
    outcome_after = models.CharField(max_length=20, choices=EpisodeOutcome.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["episode_id", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome_before__in=EpisodeOutcome.values) & Q(outcome_after__in=EpisodeOutcome.values),
                name="episodereview_outcomes_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of episode {self.episode_id}: {self.outcome_before} -> {self.outcome_after}"


class MediaKind(models.TextChoices):
    VIDEO = "video", "Video"
    POSTER = "poster", "Poster frame"
    TRAJECTORY = "trajectory", "Trajectory"
    MANIFEST = "manifest", "Recording manifest"


def episode_media_storage() -> Storage:
    """The storage recordings go to: STORAGES["episode_media"] (a local folder by default, S3 in production)."""
    return storages["episode_media"]


def episode_media_path(instance: EpisodeMedia, filename: str) -> str:
    episode = instance.episode
    return f"trials/{episode.trial_id}/episodes/{episode.index:05d}-{episode.pk}/{filename}"


class EpisodeMedia(models.Model):
    """One file of an episode's recording: a camera's video (`name` = camera, e.g. "front", "overview"),
    the poster frame, the trajectory (Parquet) or the manifest. Stored through episode_media_storage();
    served only by permission-checked views."""

    Kind = MediaKind

    episode = models.ForeignKey(Episode, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=64, blank=True, help_text="Camera name for a video; blank otherwise.")
    file = models.FileField(upload_to=episode_media_path, storage=episode_media_storage, max_length=300)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(
        max_length=64, help_text="Of the stored bytes: a retried upload of the same file is a no-op."
    )
    frames = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["episode_id", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["episode", "kind", "name"], name="episodemedia_unique_kind_name"),
            models.CheckConstraint(condition=Q(kind__in=MediaKind.values), name="episodemedia_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name} of episode {self.episode_id}".replace("  ", " ")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # done, then its zip removed after LEROBOT_EXPORT_KEEP_DAYS


DATASET_EXPORTS_FOLDER = "lerobot-exports"


def dataset_export_path(instance: DatasetExport, filename: str) -> str:
    # Outside trials/: the orphan sweep (trials.retention) removes files there that no EpisodeMedia names;
    # trials.lerobot_export has its own for this folder.
    return f"{DATASET_EXPORTS_FOLDER}/{instance.subject}/{instance.pk}/{filename}"


class DatasetExport(models.Model):
    """A LeRobotDataset v3.0 export of a trial's recorded episodes, or of every condition trial of a
    sweep (trials/lerobot_export.py), built by a Celery job: `filters` are the trial page grid's
    (outcome, review_state, stage_reached, category), the zip goes to the episode media storage and is
    removed LEROBOT_EXPORT_KEEP_DAYS after it was built (status expired)."""

    Status = ExportStatus

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="dataset_exports", null=True, blank=True)
    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="dataset_exports", null=True, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    episodes_total = models.PositiveIntegerField(default=0)
    episodes_done = models.PositiveIntegerField(default=0)
    frames = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to=dataset_export_path, storage=episode_media_storage, max_length=300, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="When the expiry removed its zip.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ExportStatus.values), name="datasetexport_status_valid"),
            models.CheckConstraint(
                condition=Q(trial__isnull=False, sweep__isnull=True) | Q(trial__isnull=True, sweep__isnull=False),
                name="datasetexport_trial_or_sweep",
            ),
        ]
        indexes = [models.Index(fields=["status", "finished_at"], name="datasetexport_expiry")]

    def __str__(self) -> str:
        return f"LeRobot export {self.pk} of {self.subject.replace('-', ' ')} ({self.status})"

    @property
    def subject(self) -> str:
        """What was exported, as a file-name part: `trial-<id>` or `sweep-<id>`."""
        return f"trial-{self.trial_id}" if self.trial_id is not None else f"sweep-{self.sweep_id}"
