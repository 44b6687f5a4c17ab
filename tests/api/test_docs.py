"""OpenAPI schema and Swagger UI: public, accurate for the ingest endpoint, and served without any CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_documents_ingest_errors_limits_and_token_auth() -> None:
    response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    upload = schema["paths"]["/api/v1/trials/{trial_pk}/episodes/"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "409", "413", "429"} <= set(upload["responses"])
    body = schema["components"]["schemas"]["EpisodeUploadRequest"]  # request components: COMPONENT_SPLIT_REQUEST
    assert len(body["oneOf"]) == 2 and body["oneOf"][1]["type"] == "array"
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
    }
    event = schema["components"]["schemas"]["EventInputRequest"]["properties"]
    assert event["t_offset_s"]["minimum"] == 0
    assert "/api/v1/trials/{trial_pk}/episodes/csv/" in schema["paths"]


def test_swagger_ui_uses_only_local_assets() -> None:
    page = Client().get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    # The page's own script is served by the docs view itself (no inline script under the CSP).
    assert [a for a in assets if not a.startswith("/static/")] == ["/api/v1/docs/?script="], assets
    assets = [a for a in assets if a.startswith("/static/")]
    assert any(a.startswith("/static/drf_spectacular_sidecar/") for a in assets), assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")) is not None, asset
