"""Exports: streamed CSV of a trial's episodes and events, and the PDF of the one-page ROI report.

CSV rows come from one values_list query read with .iterator() and written row by row, so a trial of a
million episodes streams in constant memory. The PDF is Debian's Chromium printing the report page
(`--headless --print-to-pdf`): the same HTML and the same plotly charts as the browser, offline.
"""

from __future__ import annotations

import csv
import os
import subprocess  # noqa: S404 - runs the fixed Chromium binary with fixed arguments, no shell
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from trials.models import Episode, EpisodeEvent, Trial

EPISODE_CSV_COLUMNS = (
    "trial_id",
    "index",
    "external_id",
    "outcome",
    "source",
    "cycle_time_s",
    "started_at",
    "ended_at",
)
EVENT_CSV_COLUMNS = (
    "trial_id",
    "episode_index",
    "episode_external_id",
    "t_offset_s",
    "kind",
    "category",
    "severity",
    "message",
)
CHUNK_ROWS = 5_000


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


# A text cell starting with one of these is a formula to Excel/LibreOffice (CSV injection, OWASP);
# messages and external ids come from integrators' rigs, so they are neutralised with a leading quote.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(v) for v in row])


def episode_rows(*, trial: Trial) -> QuerySet[Episode, tuple[Any, ...]]:
    """The trial's episodes as EPISODE_CSV_COLUMNS tuples, by index."""
    return (
        Episode.objects.filter(trial=trial)
        .order_by("index")
        .values_list("trial_id", "index", "external_id", "outcome", "source", "cycle_time_s", "started_at", "ended_at")
    )


def event_rows(*, trial: Trial) -> QuerySet[EpisodeEvent, tuple[Any, ...]]:
    """The trial's events as EVENT_CSV_COLUMNS tuples, by episode index then time in the episode."""
    return (
        EpisodeEvent.objects.filter(episode__trial=trial)
        .order_by("episode__index", "t_offset_s", "pk")
        .values_list(
            "episode__trial_id",
            "episode__index",
            "episode__external_id",
            "t_offset_s",
            "kind",
            "category",
            "severity",
            "message",
        )
    )


def episodes_csv(*, trial: Trial) -> Iterator[str]:
    """CSV lines (header first) of the trial's episodes; one query, streamed."""
    return _csv_lines(EPISODE_CSV_COLUMNS, episode_rows(trial=trial).iterator(chunk_size=CHUNK_ROWS))


def events_csv(*, trial: Trial) -> Iterator[str]:
    """CSV lines (header first) of the trial's events; one query, streamed."""
    return _csv_lines(EVENT_CSV_COLUMNS, event_rows(trial=trial).iterator(chunk_size=CHUNK_ROWS))


class PdfUnavailable(RuntimeError):
    """Chromium is missing or failed: the caller answers 503 with this message."""


CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PDF_TIMEOUT_S = 60


def html_to_pdf(*, html: str, chromium: str = CHROMIUM_PATH) -> bytes:
    """Print `html` (a complete page whose assets are file:// URLs) to PDF with headless Chromium.

    Returns the PDF bytes. Raises PdfUnavailable when Chromium is missing, fails or times out.
    """
    if not Path(chromium).exists():
        raise PdfUnavailable(f"PDF export needs Chromium at {chromium} (apt-get install chromium).")
    with tempfile.TemporaryDirectory(prefix="tb-pdf-") as folder:
        page, pdf = Path(folder) / "report.html", Path(folder) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            "--allow-file-access-from-files",
            f"--user-data-dir={folder}/profile",
            # The charts are drawn by JavaScript on load; virtual time lets it finish before printing.
            "--virtual-time-budget=10000",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=PDF_TIMEOUT_S)  # noqa: S603
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            raise PdfUnavailable(f"Chromium could not print the report: {error}") from error
        if not pdf.exists() or pdf.stat().st_size == 0:
            raise PdfUnavailable("Chromium produced no PDF.")
        return pdf.read_bytes()
