"""The episode page (players, timeline, trajectory plots) and the trial page's thumbnail grid, with real
recordings of expert rollouts (tests/trials/recording_support.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import Role
from core.sim.episode import RolloutResult
from tests.factories import (
    EpisodeEventFactory,
    EpisodeFactory,
    OrganizationFactory,
    RobotFactory,
    TaskFactory,
    TrialFactory,
    UserFactory,
    client_for,
    episode_media_make,
)
from tests.trials.recording_support import RecordingCache, recorded_episode
from trials.media import trial_media_bytes
from trials.models import EpisodeOutcome, EpisodeSource, EventCategory, EventKind, MediaKind, ReviewState, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def recordings() -> Iterator[RecordingCache]:
    cache = RecordingCache()
    yield cache
    cache.remove()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _trial(cell_key: str = "tabletop-reach-2d", **kwargs: object) -> Trial:
    org = OrganizationFactory()
    return TrialFactory(
        task=TaskFactory(organization=org),
        robot=RobotFactory(organization=org, sim_cell_key=cell_key),
        **kwargs,
    )


def _engineer(trial: Trial):
    return UserFactory(organization=trial.robot.organization, role=Role.ENGINEER)


def _media_url(trial: Trial, index: int, media_id: int) -> str:
    return reverse("episode-media", kwargs={"pk": trial.pk, "index": index, "media_id": media_id})


# --- The episode page --------------------------------------------------------------------------


def test_episode_page_plays_every_camera_with_its_poster_and_places_stages_and_faults(
    recordings: RecordingCache,
) -> None:
    run = recordings.run()
    trial = _trial()
    episode, stored = recorded_episode(trial=trial, index=0, run=run, faults_at_s=(1.5,))
    by_kind = {(m.kind, m.name): m for m in stored}
    page = client_for(_engineer(trial)).get(reverse("episode-detail", args=[trial.pk, 0])).content.decode()

    players = re.findall(r"<video [^>]*data-episode-video[^>]*>", page, flags=re.S)
    assert len(players) == 2  # the policy's "top" camera, then the overview
    assert 'data-camera="top"' in players[0] and 'data-camera="overview"' in players[1]
    poster = _media_url(trial, 0, by_kind[(MediaKind.POSTER, "")].pk)
    for player, camera in zip(players, ("top", "overview"), strict=True):
        assert f'src="{_media_url(trial, 0, by_kind[(MediaKind.VIDEO, camera)].pk)}"' in player
        assert f'poster="{poster}"' in player
    # Four stages reached (the trial takes the cell's names) and the fault, each a seek button at its time.
    stage_times = [f"{t:.3f}" for t in run.stages.reached_at_s]
    assert re.findall(r'data-seek="([\d.]+)"[^>]*data-testid="marker-stage"', page) == stage_times
    assert re.findall(r'data-seek="([\d.]+)"[^>]*data-testid="marker-fault"', page) == ["1.500"]
    assert "grasped" in page and "fault at 1.5 s" in page
    span = float(re.search(r'data-span-s="([\d.]+)"', page).group(1))
    assert span == pytest.approx(max(v.duration_s for v in run.recording.videos.values()))
    fault_left = float(re.search(r'data-left="([\d.]+)"[^>]*data-testid="marker-fault"', page).group(1))
    assert fault_left == pytest.approx(100 * 1.5 / span, abs=1e-3)
    # Downloads, the reviewed/stage facts, and the plots' data URL.
    assert f'href="{_media_url(trial, 0, by_kind[(MediaKind.TRAJECTORY, "")].pk)}"' in page
    assert 'data-testid="stage-reached">released<' in page and "4 of 4 stages" in page
    assert 'data-testid="review-state">Not reviewed<' in page and 'data-testid="progress">100%<' in page
    assert f'data-trajectory-url="{reverse("episode-trajectory", args=[trial.pk, 0])}"' in page
    assert "<script>" not in page and " style=" not in page  # the strict CSP: no inline script or style


def test_trajectory_json_has_one_point_per_step_with_the_cells_gripper_and_height(
    recordings: RecordingCache,
) -> None:
    for cell_key, has_height in (("tabletop-reach-2d", False), ("factory-kitting", True)):
        run: RolloutResult = recordings.run(cell_key=cell_key)
        trial = _trial(cell_key)
        recorded_episode(trial=trial, index=0, run=run)
        response = client_for(_engineer(trial)).get(reverse("episode-trajectory", args=[trial.pk, 0]))
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        data = response.json()
        assert data["rows"] == run.steps and len(data["t_s"]) == run.steps
        assert data["stages"] == list(run.stages.stages)
        assert len(data["gripper"]) == run.steps and data["state"] is None
        assert (data["height"] is not None) is has_height
        assert len(data["actions"]) == 3 if cell_key == "tabletop-reach-2d" else len(data["actions"]) >= 3
        assert all(v is not None and v >= 0 for v in data["latency_ms"])  # the expert's latency was measured
        assert data["t_s"] == sorted(data["t_s"])


def test_another_organization_gets_404_for_the_page_the_plots_and_the_files(recordings: RecordingCache) -> None:
    trial = _trial()
    _, stored = recorded_episode(trial=trial, index=0, run=recordings.run())
    other = client_for(UserFactory(organization=OrganizationFactory(), role=Role.ENGINEER))
    assert other.get(reverse("episode-detail", args=[trial.pk, 0])).status_code == 404
    assert other.get(reverse("episode-trajectory", args=[trial.pk, 0])).status_code == 404
    assert all(other.get(_media_url(trial, 0, m.pk)).status_code == 404 for m in stored)
    owner = client_for(_engineer(trial))
    assert owner.get(reverse("episode-detail", args=[trial.pk, 0])).status_code == 200
    assert owner.get(reverse("episode-trajectory", args=[trial.pk, 0])).status_code == 200


def test_an_episode_without_a_recording_says_so_in_words() -> None:
    trial = _trial()
    EpisodeFactory(trial=trial, index=0, source=EpisodeSource.INTEGRATOR_UPLOAD, external_id="row-1")
    client = client_for(_engineer(trial))
    page = client.get(reverse("episode-detail", args=[trial.pk, 0])).content.decode()
    assert 'data-testid="no-recording"' in page and "uploaded as figures" in page
    assert (
        "<video" not in page and "trajectory-plots" not in page and 'data-testid="stage-reached">not reported<' in page
    )
    assert client.get(reverse("episode-trajectory", args=[trial.pk, 0])).status_code == 404


def test_an_unreadable_stored_trajectory_is_a_422_naming_why() -> None:
    trial = _trial()
    episode = EpisodeFactory(trial=trial, index=0)
    episode_media_make(episode=episode, kind=MediaKind.TRAJECTORY, data=b"not parquet at all")
    response = client_for(_engineer(trial)).get(reverse("episode-trajectory", args=[trial.pk, 0]))
    assert response.status_code == 422 and "not a Parquet file" in response.json()["detail"]


# --- The trial page's grid ---------------------------------------------------------------------


@pytest.fixture
def graded_trial() -> Trial:
    """12 episodes with outcome, faults, stage and review set by index so each filter has a hand count."""
    trial = _trial(stages=["reached", "grasped", "placed"], episodes_planned=12)
    for i in range(12):
        outcome = (
            EpisodeOutcome.FAILURE if i % 3 == 1 else EpisodeOutcome.ABORTED if i == 11 else EpisodeOutcome.SUCCESS
        )
        stage = None if i in (9, 10) else (3 if outcome == EpisodeOutcome.SUCCESS else i % 3)
        episode = EpisodeFactory(
            trial=trial,
            index=i,
            outcome=outcome,
            stage_reached=stage,
            review_state=ReviewState.OVERRIDDEN
            if i in (4, 7)
            else ReviewState.CONFIRMED
            if i == 0
            else ReviewState.UNREVIEWED,
        )
        if outcome == EpisodeOutcome.FAILURE:
            category = EventCategory.DROP if i < 6 else EventCategory.GRASP_MISS
            EpisodeEventFactory(episode=episode, kind=EventKind.FAULT, category=category)
        if i % 2 == 0:
            episode_media_make(episode=episode, kind=MediaKind.POSTER, data=b"jpeg-%d" % i)
    return trial


def _indexes(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="episode-card" data-index="(\d+)"', html)]


def test_grid_filters_return_the_hand_counted_episodes(graded_trial: Trial) -> None:
    client = client_for(_engineer(graded_trial))
    url = reverse("trial-episodes", args=[graded_trial.pk])
    # Failures are 1, 4, 7, 10; aborted 11; the rest succeeded (stage 3). Stages: 9, 10 reported none;
    # failures at i % 3 == 1 reached 1 stage. Reviews: 0 confirmed, 4 and 7 overridden.
    expected = {
        (("outcome", "failure"),): [1, 4, 7, 10],
        (("outcome", "aborted"),): [11],
        (("category", "drop"),): [1, 4],
        (("category", "grasp_miss"),): [7, 10],
        (("stage", "3"),): [0, 2, 3, 5, 6, 8],
        (("stage", "1"),): [1, 4, 7],
        (("stage", "2"),): [11],
        (("stage", "none"),): [9, 10],
        (("review", "overridden"),): [4, 7],
        (("review", "confirmed"),): [0],
        (("review", "unreviewed"),): [1, 2, 3, 5, 6, 8, 9, 10, 11],
        (("outcome", "failure"), ("stage", "1"), ("review", "unreviewed")): [1],
        (): list(range(12)),
    }
    for filters, indexes in expected.items():
        html = client.get(url, dict(filters)).content.decode()
        assert _indexes(html) == indexes, filters
    # The stage filter offers the trial's own stage names.
    assert '<option value="2">Got as far as: grasped</option>' in html


def test_grid_shows_poster_thumbnails_lazily_and_highlights_the_first_success_and_failure_by_index(
    graded_trial: Trial,
) -> None:
    client = client_for(_engineer(graded_trial))
    html = client.get(reverse("trial-detail", args=[graded_trial.pk])).content.decode()
    posters = re.findall(r'<img src="([^"]+)" alt="" loading="lazy"', html)
    assert len(posters) == 6  # the even indexes have a poster; the others say "no recording"
    assert html.count("no recording") == 6
    assert re.search(r'class="episode-card first-success" data-testid="episode-card" data-index="0"', html)
    assert re.search(r'class="episode-card first-failure" data-testid="episode-card" data-index="1"', html)
    assert html.count('data-testid="first-success"') == 1 and html.count('data-testid="first-failure"') == 1
    # Filtered to failures from index 4 on... the highlight stays on the trial's first, not the page's first.
    failures = client.get(
        reverse("trial-episodes", args=[graded_trial.pk]), {"category": "grasp_miss"}
    ).content.decode()
    assert 'data-testid="first-failure"' not in failures
    for poster in posters:
        assert client.get(poster).status_code == 200


def test_trial_page_shows_the_bytes_its_recordings_take(recordings: RecordingCache) -> None:
    trial = _trial()
    recorded_episode(trial=trial, index=0, run=recordings.run())
    recorded_episode(trial=trial, index=1, run=recordings.run(seed=4))
    total = trial_media_bytes(trial_id=trial.pk)
    assert total == recordings.run().recording.bytes + recordings.run(seed=4).recording.bytes
    html = client_for(_engineer(trial)).get(reverse("trial-detail", args=[trial.pk])).content.decode()
    from django.template.defaultfilters import filesizeformat

    assert f"Recordings stored for this trial: {filesizeformat(total)}" in html


def test_a_page_of_50_thumbnails_costs_the_same_queries_as_a_page_of_5(django_assert_max_num_queries) -> None:
    small, large = _trial(episodes_planned=5), _trial(episodes_planned=60)
    for trial, n in ((small, 5), (large, 60)):
        for i in range(n):
            episode = EpisodeFactory(trial=trial, index=i, outcome=EpisodeOutcome.FAILURE if i % 4 else "success")
            EpisodeEventFactory(episode=episode, kind=EventKind.FAULT)
            episode_media_make(episode=episode, kind=MediaKind.POSTER, data=b"jpeg-%d" % i)
            episode_media_make(episode=episode, kind=MediaKind.VIDEO, name="front", data=b"mp4-%d" % i)
    counts = []
    for trial, n in ((small, 5), (large, 60)):
        client = client_for(_engineer(trial))
        client.get(reverse("trial-episodes", args=[trial.pk]))  # the session and user, once
        # session + user + trial + count + page + first indexes + stored bytes (+ groups for the nav).
        with django_assert_max_num_queries(8) as captured:
            html = client.get(reverse("trial-episodes", args=[trial.pk])).content.decode()
        counts.append(len(captured))
        assert len(_indexes(html)) == min(n, 50)
        assert html.count('loading="lazy"') == min(n, 50)
    assert counts[0] == counts[1]
    # The whole trial page (the live figures too) with a page of 50 thumbnails: 13 queries measured.
    with django_assert_max_num_queries(14):
        assert client.get(reverse("trial-detail", args=[large.pk])).status_code == 200
