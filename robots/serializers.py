"""REST output shapes for sites and robots (read-only: robots are registered in the UI or admin).
The agent's token hash is never exposed."""

from __future__ import annotations

from common.api_support import StrictModelSerializer
from robots.models import Robot, Site


class SiteSerializer(StrictModelSerializer[Site]):
    class Meta:
        model = Site
        fields = ["id", "organization", "name", "city", "country", "timezone", "created_at"]
        read_only_fields = fields


class RobotSerializer(StrictModelSerializer[Robot]):
    class Meta:
        model = Robot
        fields = [
            "id",
            "organization",
            "site",
            "name",
            "kind",
            "model",
            "sim_cell_key",
            "status",
            "software_version",
            "last_heartbeat_at",
            "created_at",
        ]
        read_only_fields = fields
