from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.models import Organization, Role, User
from policies.models import Policy, PolicyVersion
from reports.models import CostModel
from robots.models import Robot, RobotKind, Site
from trials.models import (
    Episode,
    EpisodeEvent,
    EpisodeMedia,
    EpisodeOutcome,
    EpisodeSource,
    EventCategory,
    EventKind,
    MediaKind,
    Task,
    Trial,
)


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.django.Password("pw-for-tests-123")

    # `UserFactory(role=Role.ENGINEER)`: factory_boy calls this with the created user, not the factory.
    @factory.post_generation
    def role(user: User, create: bool, extracted: Role | str | None, **kwargs: object) -> None:
        if create and extracted:
            user.groups.add(Group.objects.get(name=str(extracted)))


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Plant {n}")


class RobotFactory(factory.django.DjangoModelFactory[Robot]):
    class Meta:
        model = Robot

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Robot {n}")
    kind = RobotKind.SIMULATED
    sim_cell_key = "factory-kitting"


class PolicyFactory(factory.django.DjangoModelFactory[Policy]):
    class Meta:
        model = Policy

    name = factory.Sequence(lambda n: f"Policy {n}")


class PolicyVersionFactory(factory.django.DjangoModelFactory[PolicyVersion]):
    class Meta:
        model = PolicyVersion

    policy = factory.SubFactory(PolicyFactory)
    version = factory.Sequence(lambda n: f"v{n}")
    sha256 = factory.Sequence(lambda n: f"{n:064x}")


class TaskFactory(factory.django.DjangoModelFactory[Task]):
    class Meta:
        model = Task

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Task {n}")
    station = "Line 1"
    part = "Bracket"
    instruction = "place the bracket in the tray"
    manual_cycle_time_s = 10.0
    takt_time_s = 12.0
    annual_volume = 100_000
    labour_cost_per_hour = Decimal("45.00")


class TrialFactory(factory.django.DjangoModelFactory[Trial]):
    class Meta:
        model = Trial

    task = factory.SubFactory(TaskFactory)
    policy_version = factory.SubFactory(PolicyVersionFactory)
    robot = factory.SubFactory(RobotFactory, organization=factory.SelfAttribute("..task.organization"))
    episodes_planned = 10
    instruction = factory.SelfAttribute("task.instruction")


class EpisodeFactory(factory.django.DjangoModelFactory[Episode]):
    class Meta:
        model = Episode

    trial = factory.SubFactory(TrialFactory)
    index = factory.Sequence(lambda n: n)
    outcome = EpisodeOutcome.SUCCESS
    cycle_time_s = 11.0
    started_at = factory.LazyFunction(timezone.now)
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(seconds=o.cycle_time_s))
    source = EpisodeSource.SIMULATION

    @classmethod
    def _create(cls, model_class: type[Episode], *args: object, **kwargs: object) -> Episode:
        # Rows made here bypass episodes_record: count them into the trial's summary as it would.
        from trials.services import trial_summaries_add

        episode = super()._create(model_class, *args, **kwargs)
        trial_summaries_add(episodes=[episode])
        return episode


class EpisodeEventFactory(factory.django.DjangoModelFactory[EpisodeEvent]):
    class Meta:
        model = EpisodeEvent

    episode = factory.SubFactory(EpisodeFactory)
    kind = EventKind.INTERVENTION
    category = EventCategory.GRASP_MISS
    t_offset_s = 2.0

    @classmethod
    def _create(cls, model_class: type[EpisodeEvent], *args: object, **kwargs: object) -> EpisodeEvent:
        from trials.services import trial_summaries_add

        event = super()._create(model_class, *args, **kwargs)
        trial_summaries_add(episodes=[], events=[event])
        return event


class CostModelFactory(factory.django.DjangoModelFactory[CostModel]):
    class Meta:
        model = CostModel

    task = factory.SubFactory(TaskFactory)
    robot_capex = Decimal("35000")
    integration_cost = Decimal("20000")


def episodes_make(
    trial: Trial, n: int, *, successes: int, source: str = EpisodeSource.SIMULATION, start: int = 0
) -> list[Episode]:
    """n episodes of `trial` at indices start.., the first `successes` successful, cycle times 9.0-11.0 s."""
    return [
        EpisodeFactory.create(
            trial=trial,
            index=start + i,
            outcome=EpisodeOutcome.SUCCESS if i < successes else EpisodeOutcome.FAILURE,
            cycle_time_s=9.0 + (i % 5) * 0.5,
            source=source,
        )
        for i in range(n)
    ]


def episode_media_make(
    *, episode: Episode | None = None, kind: str = MediaKind.POSTER, name: str = "", data: bytes = b"\xff\xd8poster"
) -> EpisodeMedia:
    """A stored recording file (through trials.media, so storage, size and digest are real)."""
    import io

    from trials.media import episode_media_save

    return episode_media_save(episode=episode or EpisodeFactory.create(), kind=kind, name=name, handle=io.BytesIO(data))


def client_for(user: User) -> Client:
    """A Django test client logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client
