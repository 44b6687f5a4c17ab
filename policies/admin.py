from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.permissions import is_platform_admin
from core.policy.remote import RemoteConfigError, remote_endpoint_check, remote_policy
from policies.models import Policy, PolicyVersion
from policies.services import PolicyUploadError, policy_artifact_check, policy_version_register


class PolicyVersionAddForm(forms.ModelForm):
    """Add form: an ONNX upload is checked (onnx.checker, size, I/O against io_spec, dry run) in clean(),
    so a bad file is shown as a field error; the version is then stored by policy_version_register."""

    artifact = forms.FileField(required=False, help_text="ONNX file (for kind ONNX).")

    class Meta:
        model = PolicyVersion
        fields = ("policy", "version", "kind", "artifact", "io_spec", "endpoint_url", "remote_config", "notes")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == PolicyVersion.Kind.ONNX:
            upload = data.get("artifact")
            if not upload:
                self.add_error("artifact", "an ONNX file is required for an ONNX version")
                return data
            try:
                policy_artifact_check(file=upload, io_spec=data.get("io_spec"))
            except PolicyUploadError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        elif data.get("kind") in (PolicyVersion.Kind.OPENPI, PolicyVersion.Kind.REST):
            # A bad remote_config or URL is a field error here, not a failed trial later.
            try:
                remote_policy(kind=data["kind"], endpoint_url="", remote_config=data.get("remote_config"))
            except RemoteConfigError as exc:
                self.add_error("remote_config", str(exc))
            try:
                remote_endpoint_check(kind=data["kind"], endpoint_url=data.get("endpoint_url") or "")
            except RemoteConfigError as exc:
                self.add_error("endpoint_url", str(exc))
        return data


class PolicyVersionInline(admin.TabularInline):  # shown inside PolicyAdmin, so PlatformAdminOnly applies
    model = PolicyVersion
    fields = ("version", "kind", "sha256", "size_bytes", "endpoint_url", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


class PlatformAdminOnly:
    """Policies in the admin are for platform administrators only: the admin lists every organization's
    rows unscoped, and a shared policy's versions run in every organization, so Django's per-model
    permissions (which a tenant's staff user could hold) are not enough."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_platform_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_admin(request.user)


@admin.register(Policy)
class PolicyAdmin(PlatformAdminOnly, admin.ModelAdmin):
    list_display = ("name", "organization", "created_at")
    list_filter = ("organization",)
    search_fields = ("name", "description")
    list_select_related = ("organization",)
    inlines = (PolicyVersionInline,)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(PlatformAdminOnly, admin.ModelAdmin):
    list_display = ("__str__", "kind", "short_sha256", "size_bytes", "endpoint_url", "created_at")
    list_filter = ("kind", "policy")
    search_fields = ("policy__name", "version", "sha256", "endpoint_url")
    list_select_related = ("policy",)
    readonly_fields = ("sha256", "size_bytes", "created_at")

    def get_form(self, request: HttpRequest, obj: PolicyVersion | None = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = PolicyVersionAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: PolicyVersion | None = None) -> tuple[str, ...]:
        # The artifact is content-addressed by its sha256: replacing it would break that, so upload a new version.
        return self.readonly_fields + (("artifact", "kind") if obj is not None else ())

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form: forms.ModelForm, change: bool) -> None:
        if change or obj.kind != PolicyVersion.Kind.ONNX:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = policy_version_register(
            policy=data["policy"],
            version=data["version"],
            file=data["artifact"],
            io_spec=data["io_spec"],
            created_by=request.user,  # type: ignore[arg-type]
            notes=data.get("notes", ""),
        )
        form.instance = created
        obj.pk = created.pk

    @admin.display(description="sha256")
    def short_sha256(self, obj: PolicyVersion) -> str:
        return obj.sha256[:12]
