"""Row ids and episode indexes read from text (URL paths, query strings, form data)."""

from __future__ import annotations

from typing import Final

MAX_ID: Final = 2**63 - 1  # a BigAutoField
EPISODE_INDEX_MAX: Final = 2**31 - 1  # an episode index is a PositiveIntegerField


def number_from_text(value: str, *, low: int = 1, high: int = MAX_ID) -> int | None:
    """The number written in ASCII digits within [low, high], else None. `str.isdigit()` alone holds for
    superscripts, which int() refuses, and int() reads other scripts' digits, in which no id is written;
    beyond the database's integers a lookup would fail in the database, not miss."""
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if low <= number <= high else None
