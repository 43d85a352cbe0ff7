"""Typed state shared by the app's parts (aiohttp AppKey / RequestKey)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..config import Config
from ..jobs.store import JobStore
from ..jobs.worker import Worker
from .events import JobEvents
from .security import FrontDoor
from .submit import SubmitPolicy


@dataclass(frozen=True)
class Folders:
    data: Path          # the data folder: job store, token, uploads, outputs
    uploads: Path       # uploaded inputs, one folder per submission, deleted when its job ends
    outputs: Path       # clips of uploads that came without an original to sit beside


CONFIG = web.AppKey("config", Config)
FOLDERS = web.AppKey("folders", Folders)
FRONT_DOOR = web.AppKey("front_door", FrontDoor)
POLICY = web.AppKey("submit_policy", SubmitPolicy)
STORE = web.AppKey("store", JobStore)
WORKER = web.AppKey("worker", Worker)
EVENTS = web.AppKey("events", JobEvents)
AUTHENTICATED = web.RequestKey("authenticated", bool)
CORS_ORIGIN = web.RequestKey("cors_origin", str)     # an [server] allowed_origins page asked
