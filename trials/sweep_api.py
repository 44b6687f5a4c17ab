"""REST API for robustness sweeps (POST/GET /api/v1/sweeps/, GET /api/v1/sweeps/<id>/results/).

Thin: parse, call sweep_schedule or a sweep selector, serialize. Another organization's sweep is absent
from the queryset (404); scheduling needs the trial-running role (CanRunTrials)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import CanRunTrials
from accounts.requests import AuthenticatedApiRequest
from common.api_support import READ_ERRORS, ApiViewMixin, StrictCharField, StrictModelSerializer, error_responses
from policies.models import PolicyVersion
from policies.selectors import policy_version_list_for_user
from robots.models import Robot
from robots.selectors import robot_list_for_user
from trials.models import MAX_EPISODES_PER_TRIAL, Sweep, SweepDesign, Task, Trial
from trials.selectors import task_list_for_user
from trials.serializers import _limit_choices, _user
from trials.services import TrialRuleError
from trials.sweep_selectors import sweep_condition_trials, sweep_list_for_user, sweep_results
from trials.sweep_services import cell_factors, sweep_schedule


class SweepConditionSerializer(StrictModelSerializer[Trial]):
    trial = serializers.IntegerField(source="pk", read_only=True)
    label = serializers.CharField(source="sweep_label", read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Trial
        fields = ["trial", "label", "variation", "status", "episodes_planned", "seed"]
        read_only_fields = fields


class SweepSerializer(StrictModelSerializer[Sweep]):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Sweep
        fields = [
            "id",
            "name",
            "task",
            "policy_version",
            "robot",
            "design",
            "factors",
            "episodes_per_condition",
            "seed",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class SweepDetailSerializer(SweepSerializer):
    conditions = serializers.SerializerMethodField()

    class Meta(SweepSerializer.Meta):
        fields = [*SweepSerializer.Meta.fields, "conditions"]
        read_only_fields = fields

    def get_conditions(self, sweep: Sweep) -> list[dict[str, Any]]:
        return list(SweepConditionSerializer(sweep_condition_trials(sweep=sweep), many=True).data)


class SweepCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """Schedule a sweep of a visible task on one of the caller's organization's simulated robots."""

    task = serializers.PrimaryKeyRelatedField(queryset=Task.objects.none())
    policy_version = serializers.PrimaryKeyRelatedField(queryset=PolicyVersion.objects.none())
    robot = serializers.PrimaryKeyRelatedField(queryset=Robot.objects.none())
    name = StrictCharField(max_length=200)
    design = serializers.ChoiceField(choices=SweepDesign.choices, default=SweepDesign.ONE_AT_A_TIME)
    factors = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=64),
        help_text='Factor key -> levels, e.g. {"light_intensity": [0.4, 1.5]} (the cell\'s factors and ranges).',
    )
    episodes_per_condition = serializers.IntegerField(min_value=1, max_value=MAX_EPISODES_PER_TRIAL)
    seed = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = _user(self)
        if user is None:
            return
        fields: dict[str, QuerySet[Any]] = {
            "task": task_list_for_user(user=user),
            "policy_version": policy_version_list_for_user(user=user),
            "robot": robot_list_for_user(user=user),
        }
        for name, queryset in fields.items():
            _limit_choices(self.fields[name], queryset)


def _field_error(exc: TrialRuleError) -> ValidationError:
    return ValidationError({exc.field or "non_field_errors": [str(exc)]})


@extend_schema_view(
    list=extend_schema(summary="List sweeps visible to you", responses={200: SweepSerializer, **READ_ERRORS}),
    retrieve=extend_schema(
        summary="Read a sweep and its condition trials", responses={200: SweepDetailSerializer, **READ_ERRORS}
    ),
)
class SweepViewSet(ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Sweep]):
    """Robustness sweeps: one policy version under several factor levels, every condition on the same seeds."""

    queryset = Sweep.objects.none()  # for the schema generator; requests use get_queryset()
    request: AuthenticatedApiRequest

    serializer_class = SweepSerializer
    permission_classes = [permissions.IsAuthenticated, CanRunTrials]

    def get_queryset(self) -> QuerySet[Sweep]:
        return sweep_list_for_user(user=self.request.user)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(SweepDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Schedule a sweep on one of your organization's simulated robots",
        request=SweepCreateSerializer,
        responses={201: SweepDetailSerializer, **error_responses(400, 401, 403, 429)},
    )
    def create(self, request: AuthenticatedApiRequest) -> Response:
        serializer = SweepCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            sweep = sweep_schedule(created_by=request.user, **serializer.validated_data)
        except TrialRuleError as exc:
            raise _field_error(exc) from exc
        return Response(SweepDetailSerializer(sweep).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A sweep's results: success per condition (Wilson), paired change from nominal, sensitivities",
        responses={200: OpenApiTypes.OBJECT, **READ_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def results(self, request: AuthenticatedApiRequest, pk: str | None = None) -> Response:
        sweep = self.get_object()
        results = sweep_results(sweep=sweep, factors=_factors_or_none(sweep.robot.sim_cell_key))
        body = results.figures.to_dict()
        for condition, trial in zip(body["conditions"], results.trials, strict=True):
            condition["trial"] = trial.pk
        body["heatmap"] = results.heatmap.__dict__ if results.heatmap else None
        return Response(body)


def _factors_or_none(cell_key: str) -> Any:
    try:
        return cell_factors(cell_key)
    except KeyError:
        return None
