"""REST API of the reports: a task's ROI and its Monte Carlo summary, from the same functions as the pages
(reports.roi.report.task_roi_report). Visibility from trials.selectors (another organization's task is a
404); an integrator engaged on a customer's task reads its evidence (stats API), not its cost model or
ROI (403); a task whose ROI cannot be computed yet (no cost model, no episodes) is a 409 with the reason:
the request is valid, the task's recorded state does not allow an answer yet."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404  # answers 404, not 500, to a non-numeric id
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.requests import AuthenticatedApiRequest
from common.api_support import ERRORS, error_responses, query_validated
from common.exceptions import Conflict
from common.throttling import TokenRateThrottle
from core.roi import RoiInputError
from reports.roi.inputs import CommercialTermsHidden
from reports.roi.report import task_roi_report
from reports.roi.serializers import TaskRoiQuerySerializer
from trials.selectors import task_list_for_user

_EXAMPLE = {
    "task_id": 12,
    "scenario": "base",
    "currency": "EUR",
    "evidence_sources": ["simulation"],
    "episodes": 400,
    "successes": 371,
    "interventions": 9,
    "roi": {
        "robots_needed": 1,
        "fte_freed": 0.84,
        "capex": 82000.0,
        "annual_net_saving": 41250.0,
        "payback_months": 26.4,
        "discounted_payback_months": 29.1,
        "npv": 79800.0,
        "irr_annual": 0.31,
        "cost_per_good_part": 0.21,
        "payback_target_months": 24.0,
        "meets_payback_target": False,
        "monthly_cash_flows": [-82000.0, 573.0, "…"],
        "notes": [],
    },
    "monte_carlo": {
        "draws": 10000,
        "seed": 0,
        "target_payback_months": 24.0,
        "npv": {"p10": 41000.0, "p50": 78000.0, "p90": 112000.0, "mean": 77500.0},
        "payback_months": {"p10": 22.8, "p50": 26.5, "p90": 31.9, "mean": 26.9},
        "expected_npv": 77500.0,
        "p_payback_within_target": 0.21,
        "p_never_pays_back": 0.0,
        "p_npv_negative": 0.01,
    },
    "break_even": None,
    "tornado": None,
    "heatmap": None,
    "input_notes": {"robot_capex": "Vendor quote Q-1182"},
}


class TaskRoiView(APIView):
    """GET /api/v1/tasks/{id}/roi/: the ROI and Monte Carlo summary of one task and scenario."""

    throttle_classes = [TokenRateThrottle]

    @extend_schema(
        summary="A task's ROI and its Monte Carlo summary",
        description="Robots needed, FTE freed, net saving, payback, discounted payback, NPV, IRR, cost per good "
        "part and the monthly cash flows of the scenario; the Monte Carlo's P10/P50/P90 of payback and NPV, "
        "P(payback <= target), P(NPV < 0), with histograms. Every money figure is in `currency` (ISO 4217, the "
        "task organization's); null = not within "
        "the horizon (payback) or undefined (IRR). Same functions and figures as the task's ROI page.",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Task id"),
            TaskRoiQuerySerializer,
        ],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The ROI report (reports.roi.report.TaskRoiReport).",
                examples=[OpenApiExample("A task in simulation", value=_EXAMPLE)],
            ),
            **error_responses(400, 401, 403, 404, 429),
            409: OpenApiResponse(
                ERRORS[409].response,
                description="The ROI cannot be computed yet (no cost model for the scenario, no episodes of the "
                "source, no success): `errors.roi` says what to enter or run.",
            ),
        },
    )
    def get(self, request: AuthenticatedApiRequest, id: str) -> Response:  # noqa: A002 - the path parameter's name
        task = get_object_or_404(task_list_for_user(user=request.user), pk=id)
        params = query_validated(TaskRoiQuerySerializer, request)
        try:
            report = task_roi_report(
                task=task,
                scenario=params["scenario"],
                source=params.get("source"),
                user=request.user,
                draws=params["draws"],
                seed=params["seed"],
                details=False,
            )
        except CommercialTermsHidden as error:
            raise PermissionDenied(str(error)) from error
        except RoiInputError as error:
            raise Conflict(str(error), errors={"roi": [str(error)]}) from error
        return Response(report.to_dict())
