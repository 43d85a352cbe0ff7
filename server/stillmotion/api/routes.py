"""The handlers: each parses its input, calls one function, and answers.

Blocking work (file checks, hashing, engine status, analysis, cancel, listing jobs)
runs in the default executor; reading one job record stays on the loop (a primary-key
SELECT on a WAL database never waits for the writer).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import quote

from aiohttp import web

from .. import __version__, engines
from ..engines import devices, models
from ..jobs.store import LIST_LIMIT, Job, JobStore
from .errors import ApiError
from .events import stream_job
from .forms import read_form
from .state import AUTHENTICATED, CONFIG, EVENTS, FOLDERS, POLICY, STORE, WORKER
from .submit import JOB_TEXT_FIELDS, photo_of, submit_job

T = TypeVar("T")
CANCEL_WAIT_S = 2.0      # DELETE answers once the job has stopped, or after this long
MB = 2**20


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))


def _job_or_404(request: web.Request) -> Job:
    job_id = request.match_info["job_id"]
    job = request.app[STORE].get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return job


def _upload_limits(request: web.Request) -> tuple[int, int]:
    limits = request.app[CONFIG]["limits"]
    return int(limits["max_upload_mb"] * MB), int(limits["max_xmp_mb"] * MB)


# ---- health and engines --------------------------------------------------------
def health_report(config: Any) -> dict[str, Any]:
    statuses = engines.statuses(config)
    usable = [s for s in statuses if s.usable]
    device = next((s.device for s in usable if s.kind != "parallax"), "cpu")
    return {"status": "ok", "version": __version__, "device": device, "engines": [s.name for s in usable]}


async def health(request: web.Request) -> web.Response:
    if not request[AUTHENTICATED]:
        return web.json_response({"status": "ok"})      # enough to tell "not running" from "not allowed"
    config = request.app[CONFIG]
    if await in_thread(models.any_runnable_installed, config):   # (its engine's status asks for the device)
        await devices.wait_for_probe(config)
    return web.json_response(await in_thread(health_report, config))


async def list_engines(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    # The first device report waits on the device probe (a child process: devices.keep_torch_out),
    # here on the loop: an executor thread each, many of these filled the pool (devices.probe).
    await devices.wait_for_probe(config)
    statuses = await in_thread(engines.statuses, config)
    device = await in_thread(devices.device_report, config)
    catalogue = await in_thread(models.list_models, config)
    return web.json_response({"engines": [dataclasses.asdict(s) for s in statuses],
                              "device": device, "models": catalogue})


# ---- jobs ------------------------------------------------------------------------
async def create_job(request: web.Request) -> web.Response:
    max_upload, max_xmp = _upload_limits(request)
    form = await read_form(request, request.app[FOLDERS].uploads, file_fields={"image": max_upload, "xmp": max_xmp},
                           text_fields=JOB_TEXT_FIELDS, max_total=max_upload)
    submission = await in_thread(submit_job, request.app[STORE], form, request.app[POLICY],
                                 request.headers.get("Idempotency-Key"))
    job = submission.job
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not submission.created:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response({"id": job.id, "status": job.status}, status=202, headers=headers)


async def list_jobs(request: web.Request) -> web.Response:
    statuses = [s for s in request.query.get("status", "").split(",") if s] or None
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "bad_input", "limit must be a whole number") from None
    if not 1 <= limit <= LIST_LIMIT:   # (a value, as ?status=sleeping: bad_input, not bad_request)
        raise ApiError(400, "bad_input", f"limit must be between 1 and {LIST_LIMIT}; got {limit}")
    # Off the loop: a thousand jobs with their info is megabytes of JSON (~150 ms here), which
    # every other client (progress polls, event streams) would wait behind.
    body = await in_thread(_job_list_body, request.app[STORE], statuses, limit)
    return web.Response(body=body, content_type="application/json", charset="utf-8")


def _job_list_body(store: JobStore, statuses: list[str] | None, limit: int) -> bytes:
    jobs = store.list(statuses=statuses, limit=limit)
    # total: a queue of 400 listed 100 (the default limit), with nothing to say there were more.
    return json.dumps({"jobs": [j.to_dict() for j in jobs], "total": store.count(statuses)}).encode()


async def get_job(request: web.Request) -> web.Response:
    return web.json_response(_job_or_404(request).to_dict())


async def job_events(request: web.Request) -> web.StreamResponse:
    job = _job_or_404(request)
    return await stream_job(request, request.app[STORE], request.app[EVENTS], job.id)


async def cancel_job(request: web.Request) -> web.Response:
    job = _job_or_404(request)
    await in_thread(request.app[WORKER].cancel, job.id)
    await request.app[EVENTS].wait_terminal(request.app[STORE], job.id, CANCEL_WAIT_S)
    return web.json_response(_job_or_404(request).to_dict())


def _output_file(job: Job, index: str) -> Path:
    """The job's output number `index` (0: the clip), as a file that is still on disk."""
    if not index.isdigit() or int(index) >= len(job.outputs):
        raise ApiError(404, "not_found", f"job {job.id} has no output {index!r} "
                       f"({len(job.outputs)} output(s): {', '.join(map(str, range(len(job.outputs)))) or 'none'})")
    path = Path(job.outputs[int(index)])
    if path.is_dir():
        raise ApiError(409, "conflict", f"{path.name} is a folder (a TIFF sequence): read its frames from disk")
    if not path.is_file():
        raise ApiError(404, "not_found", f"{path.name} is no longer on disk (moved or deleted)")
    return path


async def job_output(request: web.Request) -> web.StreamResponse:
    """A finished clip (or its sidecar) over HTTP: for a client on another machine, or a web
    page, that cannot read the folder it was written to (an upload's clip goes to the data folder)."""
    job = _job_or_404(request)
    path = await in_thread(_output_file, job, request.match_info["index"])
    ascii_name = path.name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f'attachment; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(path.name)}'
    return web.FileResponse(path, headers={"Content-Disposition": disposition})


# ---- readiness -------------------------------------------------------------------
def analyze_photo(path: Path, max_megapixels: float, shown_as: str) -> dict[str, Any]:
    from ..readiness import analyze_path   # imported on first use: keeps the daemon's start light

    report = analyze_path(path, max_megapixels=max_megapixels).to_dict()
    report["path"] = shown_as             # the client's name, not the upload's place in the data folder
    return report


async def analyze(request: web.Request) -> web.Response:
    max_upload, _ = _upload_limits(request)
    form = await read_form(request, request.app[FOLDERS].uploads, file_fields={"image": max_upload},
                           text_fields=frozenset({"image_path", "original_path"}), max_total=max_upload)
    max_megapixels = request.app[POLICY].max_megapixels
    try:
        path = await in_thread(photo_of, form, max_megapixels)
        upload = form.files.get("image")
        # The report names the photo as the client knows it: the original a render was made
        # from (the plug-in sends Lightroom's renders), else the upload's name or the path.
        shown_as = form.fields.get("original_path") or (upload.filename if upload else str(path))
        return web.json_response(await in_thread(analyze_photo, path, max_megapixels, shown_as))
    finally:
        form.discard()


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/v1/health", health)
    app.router.add_get("/v1/engines", list_engines)
    app.router.add_post("/v1/jobs", create_job)
    app.router.add_get("/v1/jobs", list_jobs)
    app.router.add_get("/v1/jobs/{job_id}", get_job)
    app.router.add_delete("/v1/jobs/{job_id}", cancel_job)
    app.router.add_get("/v1/jobs/{job_id}/events", job_events)
    app.router.add_get("/v1/jobs/{job_id}/outputs/{index}", job_output)
    app.router.add_post("/v1/analyze", analyze)
