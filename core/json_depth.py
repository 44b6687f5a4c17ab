"""Where a JSON text nests too deeply for Python's parser, so the 400 can name the field instead of the
parser's RecursionError becoming a 500. Only called after json.loads has failed that way: a scan in Python
is too slow for every request."""

from __future__ import annotations

import re

# Strings (with their escapes) and the structural characters; everything else cannot change the depth.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def json_too_deep_path(text: str, *, max_depth: int) -> list[str | int] | None:
    """The path (object keys and list positions) to the first container nested deeper than `max_depth`,
    or None when no container is. Malformed text yields the path reached so far."""
    stack: list[list[str | int | None]] = []  # per open container: [kind, current key or position]
    last_string: str | None = None
    for match in _TOKENS.finditer(text):
        piece = match.group()
        if piece in "[{":
            if len(stack) >= max_depth:
                return [entry[1] for entry in stack if entry[1] is not None]
            stack.append([piece, 0 if piece == "[" else None])
        elif piece in "]}":
            if stack:
                stack.pop()
        elif piece == ":":
            if stack and stack[-1][0] == "{":
                stack[-1][1] = last_string
        elif piece == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] = int(stack[-1][1] or 0) + 1
        else:
            last_string = piece[1:-1]
    return None
