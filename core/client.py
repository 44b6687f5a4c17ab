"""A small TrialBench client that integrators can copy next to their rig's scripts.

Needs only Python 3.9+ and `requests`. Pushes episodes from a list of dicts or a CSV file (the layout
of GET /api/v1/episodes/csv-template/) in batches of up to 1,000, retrying network errors, 429 and 5xx
with exponential backoff. Retrying is safe: every episode carries an `external_id`, and the server
returns an already-recorded identical episode instead of writing it twice. Re-running the same upload
leaves exactly one copy of every episode.

    from client import TrialBenchClient
    tb = TrialBenchClient("https://trialbench.example.com", token="tb_...")
    trial = tb.create_trial(task=3, policy_version=7, robot=12, episodes_planned=500)
    tb.push_episodes(trial["id"], [{"external_id": "rig3-1", "outcome": "success", "cycle_time_s": 11.8,
                                    "started_at": "2026-11-25T08:00:00Z", "events": []}])
    tb.push_csv(trial["id"], "results.csv")

Command line:  python client.py --server URL --token TOKEN --trial ID results.csv|episodes.json
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import requests

MAX_BATCH = 1000
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


class TrialBenchError(RuntimeError):
    """The server refused the request (a 4xx other than 408/429): retrying would not help.
    `status` is the HTTP status, `body` the parsed JSON error ({"detail", "code", "errors"})."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else body
        errors = body.get("errors") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status}: {detail}" + (f" {json.dumps(errors)[:2000]}" if errors else ""))
        self.status = status
        self.body = body


class TrialBenchClient:
    """Talks to /api/v1/ with a personal token. `retries` attempts per request after the first, waiting
    `backoff_s * 2**attempt` (with jitter, capped at 60 s) or the server's Retry-After."""

    def __init__(
        self,
        server: str,
        *,
        token: str,
        retries: int = 6,
        backoff_s: float = 0.5,
        timeout_s: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base = server.rstrip("/") + "/api/v1"
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})

    # --- plumbing ---------------------------------------------------------------------------------

    def _wait(self, attempt: int, response: requests.Response | None) -> None:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            delay = float(retry_after)
        else:
            delay = min(60.0, self.backoff_s * 2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
        time.sleep(delay)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request, retrying transient failures. Returns the parsed JSON body (or text).
        Raises TrialBenchError on a definitive 4xx, requests.RequestException when retries run out."""
        url = path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"
        for attempt in range(self.retries + 1):
            response = None
            try:
                response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.retries:
                    raise
                self._wait(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                self._wait(attempt, response)
                continue
            content_type = response.headers.get("Content-Type", "")
            body = response.json() if "json" in content_type else response.text
            if response.status_code >= 400:
                raise TrialBenchError(response.status_code, body)
            return body
        raise AssertionError("unreachable")

    def iterate(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield every row of a paginated list, following the cursor `next` links."""
        page = self.request("GET", path, params=params)
        while True:
            yield from page["results"]
            if not page.get("next"):
                return
            page = self.request("GET", page["next"])

    # --- resources --------------------------------------------------------------------------------

    def request_object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """As `request`, for endpoints that answer a JSON object; raises ValueError for any other body
        (e.g. a proxy's HTML page)."""
        body = self.request(method, path, **kwargs)
        if not isinstance(body, dict):
            raise ValueError(f"{method} {path}: expected a JSON object, got {type(body).__name__}")
        return body

    def me(self) -> dict[str, Any]:
        return self.request_object("GET", "me/")

    def create_trial(
        self, *, task: int, policy_version: int, robot: int, episodes_planned: int, **extra: Any
    ) -> dict[str, Any]:
        """Create a trial on one of your organization's robots; returns it. Not idempotent: create it once
        and keep its id (or find it again with `iterate("trials/", robot=...)`)."""
        body = {"task": task, "policy_version": policy_version, "robot": robot, "episodes_planned": episodes_planned}
        return self.request_object("POST", "trials/", json={**body, **extra})

    def push_episodes(self, trial_id: int, episodes: Iterable[dict[str, Any]]) -> dict[str, int]:
        """Upload episodes (dicts in the API's format, each with an external_id) in batches of 1,000.
        Returns totals {"created", "existing"}. Raises TrialBenchError on invalid data or a conflict."""
        totals = {"created": 0, "existing": 0}
        for batch in _chunks(list(episodes), MAX_BATCH):
            result = self.request("POST", f"trials/{trial_id}/episodes/", json=batch)
            totals["created"] += result["created"]
            totals["existing"] += result["existing"]
        return totals

    def push_csv(self, trial_id: int, path: str) -> dict[str, int]:
        """Upload a CSV file in the documented layout, split into files of at most 1,000 episodes
        (rows of one episode stay together). Returns totals {"created", "existing"}. Raises ValueError,
        before sending anything, when the rows of one episode are not contiguous."""
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            raise ValueError(f"{path} is empty")
        header, body = rows[0], [r for r in rows[1:] if any(cell.strip() for cell in r)]
        key = header.index("external_id")
        groups: dict[str, list[list[str]]] = {}
        previous = None
        for row in body:
            external_id = row[key] if key < len(row) else ""
            if external_id in groups and external_id != previous:
                # The server refuses rows a, b, a (two episodes sharing an id, or a sorting mistake);
                # regrouping them here would hide it.
                raise ValueError(f"{path}: rows of episode {external_id!r} are not contiguous")
            groups.setdefault(external_id, []).append(row)
            previous = external_id
        totals = {"created": 0, "existing": 0}
        for chunk in _chunks(list(groups.values()), MAX_BATCH):
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(header)
            for group in chunk:
                writer.writerows(group)
            files = {"file": (os.path.basename(path), out.getvalue().encode("utf-8"), "text/csv")}
            result = self.request("POST", f"trials/{trial_id}/episodes/csv/", files=files)
            totals["created"] += result["created"]
            totals["existing"] += result["existing"]
        return totals


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Push episodes to a TrialBench trial (idempotent; safe to re-run).")
    parser.add_argument("--server", required=True, help="e.g. https://trialbench.example.com")
    parser.add_argument("--token", default=os.environ.get("TRIALBENCH_TOKEN"), help="or env TRIALBENCH_TOKEN")
    parser.add_argument("--trial", type=int, required=True)
    parser.add_argument("file", help="a .csv in the template layout, or a .json list of episodes")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token or TRIALBENCH_TOKEN is required")
    client = TrialBenchClient(args.server, token=args.token)
    try:
        if args.file.lower().endswith(".csv"):
            totals = client.push_csv(args.trial, args.file)
        else:
            with open(args.file, encoding="utf-8") as handle:
                totals = client.push_episodes(args.trial, json.load(handle))
    except TrialBenchError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(f"created {totals['created']}, already there {totals['existing']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
