from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from robots.models import Robot
from robots.selectors import robot_get_by_agent_token


@dataclass(frozen=True)
class AgentPrincipal:
    """request.user for agent calls: the robot itself, never a person."""

    robot: Robot
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_superuser: bool = False
    is_staff: bool = False

    @property
    def pk(self) -> str:
        return f"robot-{self.robot.pk}"


class RobotTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <robot agent token>`; scoped to that one robot."""

    def authenticate(self, request: Request) -> tuple[AgentPrincipal, Robot] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in ("token", "bearer"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <secret>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token characters.") from exc
        robot = robot_get_by_agent_token(raw=raw)
        if robot is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked robot token.")
        return AgentPrincipal(robot=robot), robot

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class RobotTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the robot token in the OpenAPI schema (agent endpoints)."""

    target_class = "robots.agent_auth.RobotTokenAuthentication"
    name = "robotToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <robot agent token>` from `manage.py robot_token`; scoped to that robot.",
        }
