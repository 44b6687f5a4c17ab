"""Token secrets: generated with `secrets`, stored only as sha256, compared by hash lookup."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX_LEN = 8


def token_generate(*, prefix: str = "tb") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
