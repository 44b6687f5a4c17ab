"""core/json_depth.py: the path to where a JSON text nests too deeply, strings and escapes ignored."""

from __future__ import annotations

import json

from core.json_depth import json_too_deep_path


def test_path_names_positions_and_keys_down_to_the_too_deep_container() -> None:
    text = '[{"a": 1}, {"m": {"x": ' + "[" * 10 + "]" * 10 + "}}]"
    assert json_too_deep_path(text, max_depth=5) == [1, "m", "x", 0, 0]


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"s": '[[[[[["{{{{', "t": ['\\"[[[[']})
    assert json_too_deep_path(text, max_depth=3) is None


def test_shallow_text_has_no_path() -> None:
    assert json_too_deep_path(json.dumps([{"a": [1, {"b": 2}]}]), max_depth=4) is None
