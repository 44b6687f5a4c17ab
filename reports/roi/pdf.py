"""The one-page ROI report as a PDF: Debian's Chromium prints the report page (`--headless --print-to-pdf`),
the same HTML and the same plotly charts as the browser, offline."""

from __future__ import annotations

import os
import subprocess  # noqa: S404 - runs the fixed Chromium binary with fixed arguments, no shell
import tempfile
from pathlib import Path


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
