"""Writes and rules for policies: registering an uploaded ONNX version after checking it.

An upload is parsed as an ONNX protobuf (never unpickled), checked with onnx.checker, loaded by
onnxruntime, matched against its io_spec and dry-run on a dummy observation before it is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import onnx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from google.protobuf.message import DecodeError

from accounts.models import User
from core.policy.onnx_runtime import (
    ExternalDataError,
    PolicySpecError,
    dummy_observation,
    model_external_data_check,
    policy_from_bytes,
)
from policies.models import Policy, PolicyVersion, policy_artifact_path
from policies.selectors import policy_list_writable_by


class PolicyUploadError(ValueError):
    """An uploaded policy version that was rejected; `field` names the form/API field at fault."""

    def __init__(self, message: str, *, field: str = "artifact") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ArtifactCheck:
    sha256: str
    size_bytes: int
    action_dim: int


def _read_limited(file: IO[bytes] | bytes, limit: int) -> bytes:
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    else:
        size = getattr(file, "size", None)
        if size is not None and size > limit:
            raise PolicyUploadError(f"the file is {size} bytes; the limit is {limit} bytes")
        if hasattr(file, "seek"):
            file.seek(0)
        # Read one byte past the limit so a file without a known size is still refused early.
        data = file.read(limit + 1)
    if len(data) > limit:
        raise PolicyUploadError(f"the file is larger than the limit of {limit} bytes")
    if not data:
        raise PolicyUploadError("the file is empty")
    return data


def policy_artifact_check(*, file: IO[bytes] | bytes, io_spec: Any) -> tuple[bytes, ArtifactCheck]:
    """Check an uploaded ONNX artifact against its io_spec without storing anything.

    Returns the file's bytes and an ArtifactCheck (sha256, size, action dim). Raises PolicyUploadError
    with the reason: over settings.POLICY_MAX_UPLOAD_BYTES, not an ONNX model, rejected by onnx.checker,
    external data (a model could name any file on the worker), inputs/outputs not matching io_spec
    (field "io_spec"), or a dry run that fails or gives a non-finite action."""
    data = _read_limited(file, settings.POLICY_MAX_UPLOAD_BYTES)
    try:
        # A protobuf parse: no code runs, unlike unpickling.
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise PolicyUploadError(f"not an ONNX model (the file does not parse: {exc})") from None
    if not model.graph.node and not model.graph.output:
        raise PolicyUploadError("not an ONNX model (no graph found in the file)")
    try:
        # Before onnx.checker and onnxruntime: either could open a file the model names.
        model_external_data_check(model)
    except ExternalDataError as exc:
        raise PolicyUploadError(str(exc)) from None
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise PolicyUploadError(f"onnx.checker rejected the model: {str(exc).strip()[:500]}") from None
    try:
        loaded = policy_from_bytes(data=data, io_spec=io_spec)
    except ExternalDataError as exc:  # checked above; kept so a later refactor cannot make it io_spec's fault
        raise PolicyUploadError(str(exc)) from None
    except PolicySpecError as exc:
        raise PolicyUploadError(str(exc), field="io_spec") from None
    except Exception as exc:  # onnxruntime raises its own untyped errors for models it cannot run
        raise PolicyUploadError(f"onnxruntime cannot load the model: {str(exc).strip()[:500]}") from None
    spec = loaded.spec
    try:
        action = loaded.episode(instruction="dry run").act(dummy_observation(spec))
    except (PolicySpecError, FloatingPointError) as exc:
        raise PolicyUploadError(f"the dry run failed: {exc}") from None
    except Exception as exc:  # an operator failing at run time (bad shapes inside the graph, ...)
        raise PolicyUploadError(f"the dry run failed in onnxruntime: {str(exc).strip()[:500]}") from None
    if action.shape != (spec.action.dim,) or not np.all(np.isfinite(action)):
        raise PolicyUploadError(f"the dry run gave an action of shape {action.shape}, expected ({spec.action.dim},)")
    return data, ArtifactCheck(
        sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), action_dim=spec.action.dim
    )


def policy_version_register(
    *,
    policy: Policy,
    version: str,
    file: IO[bytes] | bytes,
    io_spec: Any,
    created_by: User | None = None,
    notes: str = "",
) -> PolicyVersion:
    """Check an uploaded ONNX file (see policy_artifact_check) and store it as a new version of `policy`,
    content-addressed under MEDIA_ROOT/policies/<sha256>.onnx. Returns the PolicyVersion.
    `created_by` None is the platform itself (reference_policy_version_ensure, management commands);
    a user may add to its organization's policies only, and to shared ones only as a platform
    administrator, whatever the form or admin in front of this offered.
    Raises PolicyUploadError (field "policy", "artifact", "io_spec" or "version") when it is refused."""
    if created_by is not None and not policy_list_writable_by(user=created_by).filter(pk=policy.pk).exists():
        who = "platform administrators" if policy.organization_id is None else "its organization"
        raise PolicyUploadError(f"only {who} may add versions to {policy.name}", field="policy")
    version = (version or "").strip()
    if not version:
        raise PolicyUploadError("a version name is required", field="version")
    if PolicyVersion.objects.filter(policy=policy, version=version).exists():
        raise PolicyUploadError(f"{policy.name} already has a version {version!r}", field="version")
    data, check = policy_artifact_check(file=file, io_spec=io_spec)
    # A second version with the same bytes would compare a policy with itself under two names.
    twin = PolicyVersion.objects.filter(policy=policy, sha256=check.sha256).values_list("version", flat=True).first()
    if twin is not None:
        raise PolicyUploadError(
            f"this artifact is identical (sha256 {check.sha256[:12]}…) to {policy.name} {twin}; "
            "a new version needs a different file",
            field="artifact",
        )
    row = PolicyVersion(
        policy=policy,
        version=version,
        kind=PolicyVersion.Kind.ONNX,
        sha256=check.sha256,
        size_bytes=check.size_bytes,
        io_spec=io_spec,
        notes=notes,
        created_by=created_by,
    )
    path = policy_artifact_path(row, "")
    if default_storage.exists(path):
        # Same content already stored (another version or policy): share the file, never overwrite it.
        row.artifact.name = path
    else:
        row.artifact.save(path, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise PolicyUploadError(f"{policy.name} already has a version {version!r}", field="version") from None
    return row


REFERENCE_POLICY_NAME = "TrialBench reference VLA"
REFERENCE_POLICY_DESCRIPTION = (
    "Small vision-language-action model (conv encoder + instruction embedding + proprio) trained by behaviour "
    "cloning with DAgger on the simulation cells' scripted experts; one ONNX artifact per cell."
)


def reference_policy_version_ensure(*, cell_key: str = "factory-kitting") -> PolicyVersion:
    """Register the committed reference artifact for a cell (policies/reference/artifacts/<cell>.onnx) as a
    version of the shared 'TrialBench reference VLA' policy, once: the version name carries the cell and
    the artifact's sha256 prefix, so calling again returns the same row and a retrained artifact becomes a
    new version. Returns the PolicyVersion; raises FileNotFoundError when the cell has no artifact, and
    PolicyUploadError if the committed artifact fails the upload checks."""
    import json

    from policies.reference.evaluate import artifact_paths

    model_path, card_path = artifact_paths(cell_key)
    if not model_path.exists() or not card_path.exists():
        raise FileNotFoundError(f"no reference policy artifact for cell {cell_key!r} (run `make reference-policy`)")
    card = json.loads(card_path.read_text())
    data = model_path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    policy, _ = Policy.objects.get_or_create(
        organization=None, name=REFERENCE_POLICY_NAME, defaults={"description": REFERENCE_POLICY_DESCRIPTION}
    )
    name = f"{cell_key}-{sha[:8]}"
    existing = PolicyVersion.objects.filter(policy=policy, version=name).first()
    if existing is not None:
        return existing
    evaluation = card.get("evaluation", {})
    # The floating cells' cards call their first row "seen_phrasings", the arm cell's "nominal".
    seen = evaluation.get("seen_phrasings") or evaluation.get("nominal") or {}
    notes = (
        f"Reference policy for the {cell_key} cell. Held-out success rate "
        f"{seen.get('successes', '?')}/{seen.get('episodes', '?')} (seeds {evaluation.get('held_out_seeds')})."
    )
    return policy_version_register(policy=policy, version=name, file=data, io_spec=card["io_spec"], notes=notes)
