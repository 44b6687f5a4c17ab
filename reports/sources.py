"""Which episode sources count as real (a robot at a site) rather than simulation; the ROI and the
statistics never pool the two."""

from __future__ import annotations

from trials.models import EpisodeSource

REAL_SOURCES = (EpisodeSource.ROBOT_AGENT.value, EpisodeSource.INTEGRATOR_UPLOAD.value)
