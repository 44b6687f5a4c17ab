"""The demo dataset: a realistic small factory line. Loading it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Organization, Role, User
from accounts.services import user_create
from core.fit import fit_assess, fit_ratings_from_figures
from policies.models import Policy
from policies.services import reference_policy_version_ensure
from reports.models import CostModel, CostScenario
from robots.models import Robot, RobotKind, RobotStatus, Site
from trials.models import Task, Trial
from trials.services import trial_schedule


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    organization: str


# Demo credentials only: printed by `make demo`, never used outside a local demo database.
DEMO_PASSWORD = "trialbench-demo"  # noqa: S105

MANUFACTURER = {"name": "Nordwerk Components GmbH", "slug": "nordwerk", "kind": Organization.Kind.MANUFACTURER}
INTEGRATOR = {"name": "CellWorks Integration", "slug": "cellworks", "kind": Organization.Kind.INTEGRATOR}

USERS = (
    ("engineer", Role.ENGINEER, "nordwerk", "Erika", "Maier"),
    ("manager", Role.MANAGER, "nordwerk", "Jonas", "Weber"),
    ("integrator", Role.INTEGRATOR, "cellworks", "Priya", "Natarajan"),
)

# Cycle times, volumes and loaded labour rates are of the order reported for German light-assembly
# lines (loaded rate = wage x ~1.4); takt = available time / demand for a 2-shift line.
TASKS: tuple[dict[str, Any], ...] = (
    {
        "name": "Kitting: brackets into assembly trays",
        "station": "Line 2 / kitting cell K1",
        "part": "Steel bracket BR-118 (3 variants)",
        "instruction": "place the bracket in the tray",
        "manual_cycle_time_s": 9.5,
        "takt_time_s": 12.0,
        "annual_volume": 480_000,
        "shifts_per_day": 2,
        "hours_per_shift": 8,
        "operating_days_per_year": 230,
        "operators_per_shift": Decimal("1.0"),
        "labour_cost_per_hour": Decimal("48.00"),
        "variation_notes": "Three bracket variants, mirrored left/right; trays arrive on a conveyor.",
        "safety_notes": "Collaborative speed limits; no sharp edges after deburring.",
    },
    {
        "name": "Bin picking: bolts to feeder",
        "station": "Line 1 / fastener prep",
        "part": "M8x30 hex bolt",
        "instruction": "pick a bolt from the bin and put it on the feeder",
        "manual_cycle_time_s": 4.0,
        "takt_time_s": 5.5,
        "annual_volume": 1_200_000,
        "shifts_per_day": 2,
        "hours_per_shift": 8,
        "operating_days_per_year": 230,
        "operators_per_shift": Decimal("0.5"),
        "labour_cost_per_hour": Decimal("44.00"),
        "variation_notes": "Randomly piled, oily parts, reflective surfaces.",
        "safety_notes": "Low payload; bin edge pinch point.",
    },
    {
        "name": "Machine tending: CNC lathe load/unload",
        "station": "Cell M3 / Okuma lathe",
        "part": "Aluminium housing blank AH-40",
        "instruction": "load the blank into the chuck and put the finished part on the rack",
        "manual_cycle_time_s": 38.0,
        "takt_time_s": 90.0,
        "annual_volume": 95_000,
        "shifts_per_day": 3,
        "hours_per_shift": 8,
        "operating_days_per_year": 250,
        "operators_per_shift": Decimal("0.5"),
        "labour_cost_per_hour": Decimal("52.00"),
        "variation_notes": "Two blank lengths; chips on the fixture after each cycle.",
        "safety_notes": "Door interlock with the machine; robot must stay out while spindle runs.",
    },
    {
        "name": "Screw driving: cover plate, 4 screws",
        "station": "Line 2 / final assembly A4",
        "part": "Cover plate CP-7 with 4x M4 screws",
        "instruction": "drive the four screws into the cover plate",
        "manual_cycle_time_s": 22.0,
        "takt_time_s": 25.0,
        "annual_volume": 210_000,
        "shifts_per_day": 2,
        "hours_per_shift": 8,
        "operating_days_per_year": 230,
        "operators_per_shift": Decimal("1.0"),
        "labour_cost_per_hour": Decimal("48.00"),
        "variation_notes": "Plate position varies by ±3 mm on the fixture.",
        "safety_notes": "Screwdriver torque reaction; hand-guarding needed.",
    },
    {
        "name": "Box packing: finished housings into cartons",
        "station": "Shipping / packing table P2",
        "part": "Housing in foam insert, carton of 6",
        "instruction": "put the housing into the next free slot of the box",
        "manual_cycle_time_s": 14.0,
        "takt_time_s": 20.0,
        "annual_volume": 150_000,
        "shifts_per_day": 1,
        "hours_per_shift": 8,
        "operating_days_per_year": 230,
        "operators_per_shift": Decimal("1.0"),
        "labour_cost_per_hour": Decimal("40.00"),
        "variation_notes": "Two carton sizes; inserts sometimes misplaced.",
        "safety_notes": "Low risk; payload under 2 kg.",
    },
)

# An engineer's 1-5 ratings of each task (scales in core/fit.py), so the demo's task list has a fit order.
# Cycle time vs takt and volume are replaced by what the task's figures give (fit_ratings_from_figures).
_FIT_KEYS = ("part_variation", "precision", "cycle_vs_takt", "payload", "safety_exposure", "ergonomics", "volume")
DEMO_FIT_RATINGS = {
    "Kitting: brackets into assembly trays": dict(zip(_FIT_KEYS, (2, 2, 3, 1, 2, 3, 4), strict=True)),
    "Bin picking: bolts to feeder": dict(zip(_FIT_KEYS, (4, 3, 3, 1, 2, 4, 4), strict=True)),
    "Machine tending: CNC lathe load/unload": dict(zip(_FIT_KEYS, (1, 3, 5, 2, 3, 3, 5), strict=True)),
    "Screw driving: cover plate, 4 screws": dict(zip(_FIT_KEYS, (2, 4, 2, 1, 3, 4, 4), strict=True)),
    "Box packing: finished housings into cartons": dict(zip(_FIT_KEYS, (3, 2, 4, 2, 1, 2, 3), strict=True)),
}

# The cell of the demo's first trial: the arm cell, whose reference policy meets issue 19's targets (card:
# policies/reference/artifacts/factory-kitting-arm.json).
DEMO_CELL = "factory-kitting-arm"

BASE_COSTS = {
    "robot_capex": Decimal("35000"),
    "tooling_capex": Decimal("6000"),
    "vision_capex": Decimal("4000"),
    "safety_capex": Decimal("8000"),
    "integration_cost": Decimal("25000"),
    "fat_sat_cost": Decimal("5000"),
    "training_cost": Decimal("3000"),
    "annual_maintenance": Decimal("1400"),
    "annual_software": Decimal("6000"),
    "annual_consumables": Decimal("800"),
}


@transaction.atomic
def demo_load() -> list[DemoLogin]:
    """Create or update the demo dataset. Returns the demo logins (all with DEMO_PASSWORD)."""
    orgs = {}
    for org_spec in (MANUFACTURER, INTEGRATOR):
        org, _ = Organization.objects.update_or_create(slug=org_spec["slug"], defaults=org_spec)
        orgs[org.slug] = org
    site, _ = Site.objects.update_or_create(
        organization=orgs["nordwerk"],
        name="Plant Augsburg",
        defaults={"city": "Augsburg", "country": "Germany", "timezone": "Europe/Berlin"},
    )
    Robot.objects.update_or_create(
        organization=orgs["nordwerk"],
        name="Sim cell: factory kitting",
        defaults={
            "site": site,
            "kind": RobotKind.SIMULATED,
            "sim_cell_key": "factory-kitting",
            "model": "MuJoCo floating parallel gripper",
            "status": RobotStatus.IDLE,
        },
    )
    arm_robot, _ = Robot.objects.update_or_create(
        organization=orgs["nordwerk"],
        name="Sim cell: factory kitting, Panda arm",
        defaults={
            "site": site,
            "kind": RobotKind.SIMULATED,
            "sim_cell_key": DEMO_CELL,
            "model": "Franka Panda + Panda gripper (robosuite 1.5.2 model), front and wrist cameras",
            "status": RobotStatus.IDLE,
        },
    )
    Robot.objects.update_or_create(
        organization=orgs["cellworks"],
        name="CellWorks rig 1",
        defaults={"kind": RobotKind.PHYSICAL, "model": "UR5e + Robotiq 2F-85"},
    )
    Policy.objects.get_or_create(
        organization=None,
        name="TrialBench reference VLA",
        defaults={"description": "Small vision-language-action model trained by behaviour cloning on scripted demos."},
    )
    # The integrator is engaged on two tasks: it reads them and runs trials of them on its own rig.
    engaged = {"Kitting: brackets into assembly trays", "Screw driving: cover plate, 4 screws"}
    for spec in TASKS:
        ratings = DEMO_FIT_RATINGS[spec["name"]] | fit_ratings_from_figures(
            manual_cycle_time_s=spec["manual_cycle_time_s"],
            takt_time_s=spec["takt_time_s"],
            shifts_per_day=spec.get("shifts_per_day", 2),
            hours_per_shift=spec.get("hours_per_shift", 8.0),
            operating_days_per_year=spec.get("operating_days_per_year", 230),
        )
        fit = {"fit_factors": ratings, "fit_score": fit_assess(ratings=ratings).score}
        integrator = orgs["cellworks"] if spec["name"] in engaged else None
        task, _ = Task.objects.update_or_create(
            organization=orgs["nordwerk"],
            name=spec["name"],
            defaults={**spec, **fit, "site": site, "integrator": integrator},
        )
        CostModel.objects.get_or_create(task=task, scenario=CostScenario.BASE, defaults=BASE_COSTS)
    logins = []
    for username, role, org_slug, first, last in USERS:
        if not User.objects.filter(username=username).exists():
            user_create(
                username=username,
                password=DEMO_PASSWORD,
                organization=orgs[org_slug],
                roles=[role],
                first_name=first,
                last_name=last,
            )
        logins.append(DemoLogin(username, DEMO_PASSWORD, str(role), orgs[org_slug].name))
    # Demo databases loaded before issue 14 made the engineers staff; staff is no tenant right.
    User.objects.filter(username__in=[u[0] for u in USERS], is_superuser=False).update(is_staff=False)
    _demo_trial_ensure(robot=arm_robot, engineer=User.objects.get(username="engineer"))
    return logins


DEMO_TRIAL_EPISODES = 20


def _demo_trial_ensure(*, robot: Robot, engineer: User) -> Trial | None:
    """A first trial of the reference VLA on the demo's arm cell, so the first pages a new user opens show
    real results (the worker started by `make demo` runs it). Scheduled once; None without an artifact."""
    try:
        version = reference_policy_version_ensure(cell_key=robot.sim_cell_key)
    except FileNotFoundError:
        return None
    task = Task.objects.get(organization=robot.organization, name=TASKS[0]["name"])
    if task.trials.exists():
        return None
    return trial_schedule(
        task=task,
        policy_version=version,
        robot=robot,
        episodes_planned=DEMO_TRIAL_EPISODES,
        scheduled_by=engineer,
        seed=1000,
        episode_timeout_s=15.0,
    )
