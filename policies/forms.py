"""Upload form for an ONNX policy version. The form parses the inputs; the checks (onnx.checker,
size limit, sha256, I/O against the spec, dry run) are policy_version_register's."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings

from accounts.models import User
from policies.models import Policy
from policies.selectors import policy_list_writable_by

IO_SPEC_EXAMPLE = {
    "format": 1,
    "images": [{"input": "image", "camera": "front", "height": 64, "width": 64, "layout": "NCHW"}],
    "instruction": {"input": "instruction", "encoding": "hashed-ngrams-v1", "dim": 256},
    "state": {"input": "state", "dim": 7},
    "action": {"output": "action", "dim": 4},
}


class PolicyVersionUploadForm(forms.Form):
    # The user's writable policies replace this empty queryset in __init__.
    policy: forms.ModelChoiceField[Policy] = forms.ModelChoiceField(queryset=Policy.objects.none())
    version = forms.CharField(max_length=50, help_text="e.g. 'v3' or '2026-11-25-bc'")
    artifact = forms.FileField(label="ONNX file", help_text="An .onnx model; never a pickle.")
    io_spec = forms.CharField(
        label="I/O spec (JSON)",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        initial=json.dumps(IO_SPEC_EXAMPLE, indent=2),
        help_text="Which inputs the model takes (camera images, instruction encoding, state) and its action output.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A shared policy (no owner) is run by everyone: only platform administrators add versions to it.
        field = self.fields["policy"]  # the form's own copy of the class's field
        if not isinstance(field, forms.ModelChoiceField):
            raise TypeError("the policy field must be a ModelChoiceField")
        field.queryset = policy_list_writable_by(user=user)

    def clean_io_spec(self) -> Any:
        try:
            return json.loads(self.cleaned_data["io_spec"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None

    def clean_artifact(self) -> Any:
        upload = self.cleaned_data["artifact"]
        limit = settings.POLICY_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes.")
        return upload
