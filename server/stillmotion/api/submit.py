"""A parsed POST /v1/jobs form -> a queued job (or the live job it duplicates).

Everything here is blocking (file checks, hashing, SQLite): the handler runs it in
an executor. Every refusal is an InputError with its HTTP status, raised before
anything is queued; the upload folder is removed whenever no new job takes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .. import photo as photo_mod
from ..errors import InputError
from ..engines import models
from ..jobs.spec import JobSpec
from ..place import check_destination
from ..jobs.store import JobStore, Submission, job_fingerprint
from ..metadata.sources import parse_packet
from ..request import AnimateRequest
from . import targets
from .forms import Form

JOB_TEXT_FIELDS = frozenset({"image_path", "develop", "original_path", "settings", "priority"})


@dataclass(frozen=True)
class SubmitPolicy:
    allowed_dirs: tuple[str, ...]        # [output] allowed_dirs
    max_megapixels: float                # [limits] max_megapixels: 422 beyond
    animate_defaults: Mapping[str, Any]  # [animate]: engine/profile when the settings name none
    outputs_root: Path                   # clips of uploads that have no original to sit beside
    config: Mapping[str, Any]            # the whole config: the model registry

    @classmethod
    def from_config(cls, config: Mapping[str, Any], outputs_root: Path) -> "SubmitPolicy":
        return cls(allowed_dirs=tuple(config["output"]["allowed_dirs"]),
                   max_megapixels=float(config["limits"]["max_megapixels"]),
                   animate_defaults=dict(config["animate"]), outputs_root=outputs_root, config=config)


def json_object(text: str | None, field: str) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{field} is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise InputError(f"{field} is nested too deeply to be settings") from None
    if not isinstance(value, dict):
        raise InputError(f"{field} must be a JSON object")
    try:       # a lone surrogate escape ("\\ud800") is valid JSON but no text a path or an XMP can hold
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{field} holds a string that is not valid Unicode (a lone \\ud800-\\udfff escape)") from None
    return value


def photo_of(form: Form, max_megapixels: float) -> Path:
    """The image to work on: the uploaded `image` or a local `image_path`, checked to be a
    complete image within the pixel limit (TooLargeError: 422) before any work is queued:
    a truncated file is a 400 now, not a failed job later."""
    upload, local = form.files.get("image"), form.fields.get("image_path")
    if (upload is None) == (local is None):
        raise InputError("send exactly one of 'image' (a file) or 'image_path' (a local path)")
    path = upload.path if upload is not None else targets.existing_image(local, "image_path")
    photo_mod.check_complete(path, max_megapixels)   # (an upload keeps the client's file name)
    return path


def sidecar_of(form: Form) -> Path | None:
    """The uploaded `xmp`, parsed once here so that a broken one is a 400 (it was asked for:
    the job would stop on it), named as the client named it."""
    xmp = form.files.get("xmp")
    if xmp is None:
        return None
    parse_packet(xmp.path.read_bytes(), f"XMP sidecar {xmp.filename}")   # size: bounded by the form
    return xmp.path


def submit_job(store: JobStore, form: Form, policy: SubmitPolicy, idempotency_key: str | None) -> Submission:
    try:
        submission = _submit(store, form, policy, idempotency_key)
    except BaseException:
        form.discard()
        raise
    if not submission.created:
        form.discard()           # the existing job has its own inputs
    return submission


def _submit(store: JobStore, form: Form, policy: SubmitPolicy, idempotency_key: str | None) -> Submission:
    settings = json_object(form.fields.get("settings"), "settings") or {}
    for key in ("engine", "profile"):       # as the CLI does: unset -> the config's default
        settings.setdefault(key, policy.animate_defaults.get(key))
    request = AnimateRequest.from_dict(settings)
    develop = json_object(form.fields.get("develop"), "develop")
    photo_path = photo_of(form, policy.max_megapixels)
    upload = form.files.get("image")

    original: Path | None = None
    if form.fields.get("original_path") is not None:
        original = targets.existing_image(form.fields["original_path"], "original_path", targets.ORIGINAL_SUFFIXES)
    elif upload is None:
        original = photo_path            # a local image: the result goes beside it
    out_dir = targets.destination(original, request.out_dir, policy.allowed_dirs)
    if out_dir is None:                  # an upload with nowhere of its own to go
        assert form.folder is not None
        out_dir = policy.outputs_root / form.folder.name
    # What would only fail the job once it ran is refused now: a file where the clips' folder
    # should be, a folder that cannot be written, a model that does not exist or is not on
    # this disk (the answer gives the pull command). (Whether a generative engine can run at
    # all is left to the job: finding out imports torch.)
    check_destination(out_dir)
    if request.model is not None or request.engine not in ("auto", "parallax"):
        models.resolve(request.model, None if request.engine == "auto" else request.engine, policy.config)
    spec = JobSpec(photo_path=photo_path, request=request, sidecar_path=sidecar_of(form),
                   develop=develop, original_path=original, out_dir=out_dir)
    # An upload without an original goes to a fresh folder: identify it by the client's file name.
    target = None if original is not None else f"upload:{upload.filename}"
    fingerprint = job_fingerprint(spec, photo_digest=upload.digest if upload else None, target=target)
    priority = form.fields.get("priority", "interactive")
    return store.submit(spec, priority=priority, idempotency_key=idempotency_key, fingerprint=fingerprint,
                        upload_dir=form.folder, source="api")
