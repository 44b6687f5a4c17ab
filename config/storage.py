"""Where episode recordings are stored (STORAGES["episode_media"]), chosen by environment variables: the
local MEDIA_ROOT folder by default, any S3-compatible object store (AWS S3, MinIO, Ceph, R2...) through
django-storages with EPISODE_MEDIA_STORAGE=s3. A function, so the settings and the tests build it alike."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

LOCAL = "local"
S3 = "s3"
S3_BACKEND = "storages.backends.s3.S3Storage"


def episode_media_storage_config(
    *,
    kind: str,
    bucket: str = "",
    endpoint_url: str = "",
    region: str = "",
    prefix: str = "",
    access_key: str = "",
    secret_key: str = "",
) -> dict[str, Any]:
    """The STORAGES entry for episode recordings. Raises ImproperlyConfigured for an unknown kind, or for
    S3 without a bucket. Empty credentials leave boto3 its own chain (instance role, ~/.aws)."""
    kind = kind.strip().lower() or LOCAL
    if kind == LOCAL:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != S3:
        raise ImproperlyConfigured(f"EPISODE_MEDIA_STORAGE must be {LOCAL!r} or {S3!r}, got {kind!r}")
    if not bucket:
        raise ImproperlyConfigured("EPISODE_MEDIA_S3_BUCKET must be set when EPISODE_MEDIA_STORAGE=s3")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": prefix.strip("/"),
        # Private objects, never a public or signed URL: recordings are served by permission-checked views.
        "default_acl": None,
        "querystring_auth": True,
        # A replaced recording gets a new key and the old one is deleted after the row points at the new
        # one (trials.media.episode_media_save), as on the local folder: a crash between never leaves a row
        # whose digest does not match its bytes.
        "file_overwrite": False,
    }
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if region:
        options["region_name"] = region
    if access_key or secret_key:
        options["access_key"] = access_key
        options["secret_key"] = secret_key
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
