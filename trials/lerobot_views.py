"""The browser side of LeRobot export and import: the trial and sweep pages' "Export as LeRobotDataset"
form, the exports' progress fragment (polled by htmx), the zip download (permission-checked, byte
ranges; 410 once expired), and the dataset upload page beside the CSV upload. The work is in trials.lerobot_export and
trials.lerobot_import, shared with the API (trials.lerobot_api)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import can_run_trials
from accounts.requests import AuthenticatedHttpRequest
from trials.lerobot_export import (
    FILTER_FIELDS,
    ExportExpired,
    ExportRequestError,
    dataset_export_request,
    export_chunks,
    export_expires_at,
    sweep_export_request,
)
from trials.lerobot_import import ImportRejected, ImportSummary, lerobot_import
from trials.media_views import byte_range
from trials.models import DatasetExport, ExportStatus, Sweep, Trial
from trials.selectors import trial_list_for_user, trial_list_writable_by_user
from trials.services import EpisodeConflictError, TrialRuleError
from trials.sweep_selectors import sweep_list_for_user

_CHUNK = 1024 * 1024


def export_download_response(request: HttpRequest, export: DatasetExport) -> HttpResponse | StreamingHttpResponse:
    """The export's zip with single byte ranges (206/416), as the episode media are served; 404 before
    it is built or when its file is missing. Raises ExportExpired once the expiry removed it."""
    if export.status == ExportStatus.EXPIRED:
        raise ExportExpired(f"export {export.pk} expired: its zip was removed; export again")
    if not export.file.name or not export.file.storage.exists(export.file.name):
        raise Http404("the export has no file (not finished, failed, or removed)")
    size = int(export.size_bytes)
    etag = f'"lerobot-export-{export.pk}-{size}"'
    if_range = request.headers.get("If-Range")
    wanted = byte_range(request.headers.get("Range"), size) if if_range in (None, etag) else None
    if wanted is False:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(0, end - start + 1)
    response = StreamingHttpResponse(
        export_chunks(export=export, start=start, length=length),
        status=206 if isinstance(wanted, tuple) else 200,
        content_type="application/zip",
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = f'attachment; filename="{export.subject}-lerobot-{export.pk}.zip"'
    if isinstance(wanted, tuple):
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _export_rows(exports: list[DatasetExport]) -> list[dict[str, object]]:
    return [{"export": e, "expires_at": export_expires_at(e)} for e in exports]


def _exports_fragment(
    request: AuthenticatedHttpRequest, *, trial: Trial | None, sweep: Sweep | None, exports: list[DatasetExport]
) -> HttpResponse:
    polling = any(e.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for e in exports)
    context = {"trial": trial, "sweep": sweep, "rows": _export_rows(exports), "polling": polling}
    return render(request, "trials/_lerobot_exports.html", context)


def _download(request: HttpRequest, export: DatasetExport) -> HttpResponse | StreamingHttpResponse:
    try:
        return export_download_response(request, export)
    except ExportExpired as exc:
        return HttpResponse(f"{exc}.", status=410, content_type="text/plain; charset=utf-8")


def _filters(request: HttpRequest) -> dict[str, str]:
    return {k: request.POST.get(k, "") for k in FILTER_FIELDS}


@require_POST
@login_required
def lerobot_export_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Start an export of the trial's episodes the form's filters select; back to the trial page."""
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    try:
        dataset_export_request(trial=trial, user=request.user, filters=_filters(request))
    except ExportRequestError as exc:
        messages.error(request, f"Export not started: {exc}")
    else:
        messages.success(request, "LeRobotDataset export started; its progress shows below.")
    return redirect("trial-detail", pk=trial.pk)


@require_GET
@login_required
def lerobot_exports_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The trial's latest exports with progress and download links (the trial page polls it)."""
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    exports = list(DatasetExport.objects.filter(trial=trial)[:5])
    return _exports_fragment(request, trial=trial, sweep=None, exports=exports)


@require_GET
@login_required
def lerobot_export_download(
    request: AuthenticatedHttpRequest, pk: int, export_id: int
) -> HttpResponse | StreamingHttpResponse:
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    return _download(request, get_object_or_404(DatasetExport, pk=export_id, trial=trial))


@require_POST
@login_required
def sweep_lerobot_export_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Start one export of every condition's episodes the form's filters select; back to the sweep page."""
    sweep = get_object_or_404(sweep_list_for_user(user=request.user), pk=pk)
    try:
        sweep_export_request(sweep=sweep, user=request.user, filters=_filters(request))
    except ExportRequestError as exc:
        messages.error(request, f"Export not started: {exc}")
    else:
        messages.success(request, "LeRobotDataset export of every condition started; its progress shows below.")
    return redirect("sweep-detail", pk=sweep.pk)


@require_GET
@login_required
def sweep_lerobot_exports_fragment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    sweep = get_object_or_404(sweep_list_for_user(user=request.user), pk=pk)
    exports = list(DatasetExport.objects.filter(sweep=sweep)[:5])
    return _exports_fragment(request, trial=None, sweep=sweep, exports=exports)


@require_GET
@login_required
def sweep_lerobot_export_download(
    request: AuthenticatedHttpRequest, pk: int, export_id: int
) -> HttpResponse | StreamingHttpResponse:
    sweep = get_object_or_404(sweep_list_for_user(user=request.user), pk=pk)
    return _download(request, get_object_or_404(DatasetExport, pk=export_id, sweep=sweep))


def upload_to_file(handle: IO[bytes] | None, target: Path, *, max_bytes: int) -> int:
    """Copy an upload into `target`, at most max_bytes; returns its size. Raises ImportRejected (413)."""
    size = 0
    with target.open("wb") as out:
        while handle is not None and (chunk := handle.read(_CHUNK)):
            size += len(chunk)
            if size > max_bytes:
                raise ImportRejected("", "file", f"larger than the limit of {max_bytes} bytes", status=413)
            out.write(chunk)
    if size == 0:
        raise ImportRejected("", "file", "empty: send the dataset's zip")
    return size


def import_run(*, trial: Trial, handle: IO[bytes] | None, success_field: str) -> ImportSummary:
    """Spool the upload to a temporary folder and import it (removed afterwards, whatever happens)."""
    work = Path(tempfile.mkdtemp(prefix="trialbench-lerobot-import-"))
    try:
        archive = work / "upload.zip"
        upload_to_file(handle, archive, max_bytes=int(settings.LEROBOT_IMPORT_MAX_BYTES))
        return lerobot_import(trial=trial, archive=archive, workdir=work, success_field=success_field)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@login_required
def lerobot_import_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload a LeRobotDataset v3.0 zip into one of the organization's trials (`?trial=ID` preselects it)."""
    allowed = can_run_trials(request.user)
    trials = trial_list_writable_by_user(user=request.user).order_by("-created_at")
    result: ImportSummary | None = None
    problem: str | None = None
    status = 200
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied("Only engineers and integrators may import episodes.")
        trial = trials.filter(pk=request.POST.get("trial") or 0).first()
        upload = request.FILES.get("file")
        if trial is None:
            problem, status = "trial: choose one of your organization's trials.", 400
        elif upload is None:
            problem, status = "file: choose the dataset's zip.", 400
        else:
            try:
                result = import_run(
                    trial=trial,
                    handle=upload,
                    success_field=request.POST.get("success_field", "").strip(),
                )
            except ImportRejected as exc:
                problem, status = str(exc), exc.status
            except TrialRuleError as exc:
                problem, status = str(exc), 400
            except (EpisodeConflictError, IntegrityError) as exc:
                problem, status = f"The dataset conflicts with recorded episodes; nothing was written ({exc}).", 409
    context = {
        "trials": trials,
        "selected": request.POST.get("trial") or request.GET.get("trial") or "",
        "result": result,
        "problem": problem,
        "allowed": allowed,
    }
    return render(request, "trials/lerobot_import.html", context, status=status)
