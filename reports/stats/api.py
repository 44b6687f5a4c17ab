"""REST API of the statistics: the same selectors (reports.stats.selectors) and figures as the pages.

GET /api/v1/trials/{id}/stats/       per-source statistics, sequential verdict, acceptance evaluation
GET /api/v1/trials/{id}/acceptance/  the task's acceptance criteria evaluated on the trial
GET /api/v1/trials/compare/?a=&b=    two trials of one task compared (paired by seed when they ran the same scenes)
GET /api/v1/tasks/{id}/stats/        per source, per policy version, sim-to-real gap, plan, acceptance
GET /api/v1/tasks/{id}/plan/         episodes and robot-hours to show success >= target
GET /api/v1/plan/paired/             seeds for a paired comparison of two versions, beside the unpaired size

Visibility from trials.selectors: another organization's trial or task is a 404. Bad parameters are a
400 naming the field.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.requests import AuthenticatedApiRequest
from common.api_support import error_responses, path_number, query_validated
from common.throttling import TokenRateThrottle
from core.paired import paired_plan
from reports.stats.selectors import task_panel, task_trial_plan, trial_panel, trials_compare
from reports.stats.serializers import (
    CompareQuerySerializer,
    PairedPlanQuerySerializer,
    PlanQuerySerializer,
    TrialStatsQuerySerializer,
)
from reports.stats.sweep_acceptance import sweep_acceptance_evaluate
from trials.models import Sweep, Task, Trial

ERRORS = error_responses(400, 401, 404, 429)
SOURCE_NOTE = (
    " Every figure block names its `source` (simulation, robot_agent, integrator_upload); sources are never "
    "pooled. Rates carry their interval, confidence, method and n; null means not enough data."
)


def _id_param(what: str) -> OpenApiParameter:
    return OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description=f"{what} id")


def _ok(description: str, example: dict[str, Any]) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.OBJECT, description=description, examples=[OpenApiExample("Example", value=example)]
    )


class TrialStatsView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="A trial's statistics",
        description="Per source: success rate (Wilson 95% interval, exact one-sided lower bound and the claim "
        "sentence), cycle time of successful episodes (n, mean, median with BCa CI, p10/p90/p95, CV, "
        "histogram and box plot), takt verdict, interventions per hour and MTBI (chi-square), longest runs, "
        "failure Pareto, effective throughput, OEE with its loss waterfall. Also the sequential verdict (Wald "
        "SPRT: pass / fail / keep going, with the levels used), each stored acceptance criteria set "
        "evaluated on the trial, and the stage funnel (`funnel`: per source, episodes reaching each of the trial's "
        "stages with Wilson intervals, mean progress with a Student t interval). Each source block's "
        "`n_reviewed` (and each acceptance source's) says how many of its episodes a person reviewed: the "
        "figures count the reviewed outcome." + SOURCE_NOTE,
        parameters=[_id_param("Trial"), TrialStatsQuerySerializer],
        responses={
            200: _ok(
                "reports.stats.selectors.TrialPanel",
                {
                    "statistics": {"trial_id": 7, "sources": [{"source": "simulation", "n_episodes": 40, "...": "…"}]},
                    "levels": {"acceptable_success": 0.9, "rejectable_success": 0.8, "alpha": 0.05, "beta": 0.1},
                    "sequential": {"sources": [{"source": "simulation", "verdict": {"verdict": "pass", "...": "…"}}]},
                    "acceptance": [],
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002 - the path parameter's name
        params = query_validated(TrialStatsQuerySerializer, request)
        try:
            panel = trial_panel(trial_id=path_number(id), user=request.user, **params)
        except Trial.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        except ValueError as exc:
            raise ValidationError({"rejectable": [str(exc)]}) from exc
        return Response(panel.to_dict())


class TrialAcceptanceView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="A trial's acceptance evaluation",
        description="Each acceptance criteria set of the trial's task (FAT, SAT, run-off) evaluated on the "
        "trial per source: pass/fail per check with its evidence sentence; `passed` null when the trial has "
        "no episode of the required source." + SOURCE_NOTE,
        parameters=[_id_param("Trial")],
        responses={
            200: _ok(
                "List of reports.stats.selectors.CriteriaAcceptance",
                {
                    "trial_id": 7,
                    "criteria": [
                        {"name": "fat", "label": "FAT (factory acceptance)", "passed": True, "sources": ["…"]}
                    ],
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002
        try:
            panel = trial_panel(trial_id=path_number(id), user=request.user)
        except Trial.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        return Response({"trial_id": panel.statistics.trial_id, "criteria": [a.to_dict() for a in panel.acceptance]})


class TrialCompareView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Compare two trials of one task",
        description="Success rate: Barnard's exact test and a Newcombe interval for B - A; cycle time of "
        'successful episodes: Mann-Whitney U; each with a plain-language verdict ("no evidence of a '
        'difference" unless p < 0.05). When both trials ran the same simulated cell, seed, instruction and '
        "episode timeout, episode i of each ran the same scene: `paired` then holds the 2 x 2 table of pairs "
        "(matched by episode index over counted episodes), McNemar's exact p and Newcombe's paired interval, "
        'with the unpaired test on the same pairs beside it, and `applies` is "paired". Otherwise `paired` '
        "is null and `pairing.reasons` say why. Trials of different tasks are a 400.",
        parameters=[CompareQuerySerializer],
        responses={
            200: _ok(
                "reports.stats.selectors.TrialComparison",
                {
                    "trial_a_id": 6,
                    "trial_b_id": 7,
                    "success": {"p_value": 0.003, "verdict": "…"},
                    "cycle_time": {},
                    "applies": "paired",
                    "pairing": {"pairable": True, "reasons": [], "n_pairs": 40, "statement": "…"},
                    "paired": {"both": 20, "only_a": 2, "only_b": 8, "neither": 10, "p_value": 0.109},
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest) -> Response:
        params = query_validated(CompareQuerySerializer, request)
        try:
            result = trials_compare(
                trial_a_id=params["a"], trial_b_id=params["b"], source=params.get("source"), user=request.user
            )
        except Trial.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        except ValueError as exc:
            raise ValidationError({"b": [str(exc)]}) from exc
        return Response(result.to_dict())


class TaskStatsView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="A task's statistics",
        description="All trials of the task per source (same figures as a trial), a per-policy-version "
        "summary, the sim-to-real gap of each policy version with both simulation and real episodes, the "
        "trial plan for the strictest stored success bound (else 90%), and each acceptance criteria set "
        "evaluated on the latest 20 trials." + SOURCE_NOTE,
        parameters=[_id_param("Task")],
        responses={
            200: _ok(
                "reports.stats.selectors.TaskPanel",
                {"statistics": {"task_id": 3, "sources": ["…"], "sim_to_real": []}, "plan": {}, "acceptance": []},
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002
        try:
            panel = task_panel(task_id=path_number(id), user=request.user)
        except Task.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        return Response(panel.to_dict())


class TaskPlanView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Plan a trial",
        description="The smallest number of episodes that shows success >= target at the confidence with up "
        "to `failures` failures (binomial; success-run formula for 0), and the robot-hours at the task's "
        "measured mean attempt cycle time (`cycle_time_source` says whose; null when nothing was measured).",
        parameters=[_id_param("Task"), PlanQuerySerializer],
        responses={
            200: _ok(
                "core.stats.TrialPlan",
                {
                    "target_success": 0.9,
                    "confidence": 0.95,
                    "failures_allowed": 0,
                    "episodes_needed": 29,
                    "robot_hours": 0.09,
                    "cycle_time_source": "simulation",
                    "statement": "…",
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002
        params = query_validated(PlanQuerySerializer, request)
        try:
            plan = task_trial_plan(
                task_id=path_number(id),
                target_success=params["target"],
                confidence=params["confidence"],
                failures_allowed=params["failures"],
                source=params.get("source"),
                user=request.user,
            )
        except Task.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        except ValueError as exc:
            raise ValidationError({"target": [str(exc)]}) from exc
        return Response(plan.to_dict())


class PairedPlanView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="Plan a paired comparison",
        description="Seeds both policy versions must run (each seed once by A and once by B) for McNemar's test "
        "to tell `rate_b` from `rate_a` with `power` at two-sided `alpha` (Connor 1987), and beside it the "
        "episodes per version two independent samples would need (statsmodels). `discordance` is the share "
        "of seeds the two decide differently; the fewer, the fewer seeds. Rates that cannot have that "
        "discordance are a 400 naming `discordance`.",
        parameters=[PairedPlanQuerySerializer],
        responses={
            200: _ok(
                "core.paired.PairedPlan",
                {
                    "rate_a": 0.6,
                    "rate_b": 0.75,
                    "discordance": 0.2,
                    "pairs_needed": 68,
                    "paired_episodes": 136,
                    "unpaired_per_version": 152,
                    "unpaired_episodes": 304,
                    "statement": "…",
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest) -> Response:
        params = query_validated(PairedPlanQuerySerializer, request)
        try:
            plan = paired_plan(
                rate_a=params["rate_a"],
                rate_b=params["rate_b"],
                discordance=params.get("discordance"),
                alpha=params["alpha"],
                power=params["power"],
            )
        except ValueError as exc:  # an impossible discordance, a non-finite value, or beyond 10 million seeds
            message = str(exc)
            field = next((f for f in ("discordance", "rate_a", "alpha", "power") if f in message), "rate_b")
            raise ValidationError({field: [message]}) from exc
        return Response(plan.to_dict())


class SweepAcceptanceView(APIView):
    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="A sweep's acceptance under every condition",
        description="Each acceptance criteria set of the sweep's task evaluated on every condition trial of the "
        "sweep: `passed` true only when every condition passes, false when one fails (`failing` names them), "
        "null while a condition has no episode yet.",
        parameters=[_id_param("Sweep")],
        responses={
            200: _ok(
                "reports.stats.sweep_acceptance.SweepAcceptance",
                {"sweep_id": 3, "criteria": [{"label": "FAT (factory acceptance)", "passed": False, "failing": ["…"]}]},
            ),
            **ERRORS,
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002
        try:
            result = sweep_acceptance_evaluate(sweep_id=path_number(id), user=request.user)
        except Sweep.DoesNotExist as exc:
            raise NotFound("Not found.") from exc
        return Response(result.to_dict())
