"""Serving episode recordings: only to users who may see the trial (another organization gets 404), with
single byte-range requests (206) so the browser's player can seek without downloading the whole video."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from accounts.requests import AuthenticatedHttpRequest
from trials.media import media_chunks
from trials.models import EpisodeMedia
from trials.selectors import trial_list_for_user

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(start, end inclusive) of a single satisfiable `Range: bytes=...` header; None to send the whole
    file (no header, several ranges, another unit: RFC 9110 lets a server ignore them); False when the
    range cannot be satisfied (416)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-N": the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return (max(0, size - length), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return (start, end)


@require_GET
@login_required
def episode_media(
    request: AuthenticatedHttpRequest, pk: int, index: int, media_id: int
) -> HttpResponse | StreamingHttpResponse:
    """One stored file of an episode's recording (video, poster, trajectory, manifest)."""
    trial = get_object_or_404(trial_list_for_user(user=request.user), pk=pk)
    media = get_object_or_404(
        EpisodeMedia.objects.select_related("episode"), pk=media_id, episode__trial=trial, episode__index=index
    )
    size = int(media.size_bytes)
    etag = f'"{media.sha256}"'
    if_range = request.headers.get("If-Range")
    wanted = byte_range(request.headers.get("Range"), size) if if_range in (None, etag) else None
    if wanted is False:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    if not media.file.name or not media.file.storage.exists(media.file.name):
        raise Http404("the recording file is gone (removed by the retention cleanup)")
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(0, end - start + 1)
    response = StreamingHttpResponse(
        media_chunks(media=media, start=start, length=length),
        status=206 if isinstance(wanted, tuple) else 200,
        content_type=media.content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    # Private: the bytes are scoped to a user's organization, so no shared cache may keep them.
    response["Cache-Control"] = "private, max-age=3600"
    if isinstance(wanted, tuple):
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
