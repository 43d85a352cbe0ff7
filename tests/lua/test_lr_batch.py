"""How an export follows its jobs when the daemon misbehaves, against a scripted client: how
many status calls a large batch makes, a daemon that answers but cannot say, a status call
that times out, a daemon that is gone, a cancel that reaches a finished job, a busy catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from lrsim import Lightroom

# A client whose answers a test scripts: job(id) and cancelJob(id) call back into Python.
CLIENT = """
return function(answer, cancel, healthy)
  local client = { calls = {} }
  function client:submitJob(job)
    local id = "j" .. (#self.calls + 1)
    self.calls[#self.calls + 1] = "submit " .. id
    return { id = id, status = "queued" }
  end
  function client:job(id)
    self.calls[#self.calls + 1] = "job " .. id
    return answer(id)
  end
  function client:cancelJob(id)
    self.calls[#self.calls + 1] = "cancel " .. id
    return cancel(id)
  end
  function client:health()
    self.calls[#self.calls + 1] = "health"
    if healthy() then return { status = "ok" } end
    return nil, { kind = "unreachable", message = "The Stillmotion daemon is not running." }
  end
  return client
end
"""

PROGRESS = """
return { canceled = false,
         setPortionComplete = function() end, setCaption = function() end,
         isCanceled = function(self) return self.canceled end }
"""


class Batch:
    """An AnimateBatch of `n` submitted photos over a scripted client, driven inside a task."""

    def __init__(self, lr: Lightroom, folder: Path, n: int, answer: Callable[[str], Any], *,
                 cancel: Callable[[str], Any] | None = None, healthy: bool | Callable[[], bool] = True,
                 props: dict[str, Any] | None = None) -> None:
        self.lr = lr
        self.healthy = healthy
        make = lr.lua.execute(CLIENT)
        self.client = make(answer, cancel or (lambda job_id: lr.table({"id": job_id, "status": "canceled"})),
                           lambda: self.healthy() if callable(self.healthy) else self.healthy)
        self.progress = lr.lua.execute(PROGRESS)
        self.photos = [lr.import_photo(folder / "IMG_0001.jpg")]
        module = lr.require("AnimateBatch")
        self.batch = module.new(lr.table({"client": self.client, "catalog": lr.catalog,
                                          "props": lr.table(props or {}), "progress": self.progress,
                                          "total": n}))
        self.run("function(batch, photo, folder, n) for i = 1, n do "
                 "batch:submit(photo, folder .. '/render-' .. i .. '.jpg', nil) end end",
                 self.batch, self.photos[0], str(folder), n)
        self.client.calls = lr.table([])

    def run(self, code: str, *args: Any) -> None:
        """Lua `code` (a function, called with `args`) in a Lightroom task: LrHttp, sleeps and
        catalog writes need one. (Lua, not Python: lupa cannot run Python inside a task's
        coroutine reliably.)"""
        task = self.lr.lua.execute("return function(f, ...) local args = { n = select('#', ...), ... } "
                                   "return function() f(unpack(args, 1, args.n)) end end")
        self.lr.fake.modules.LrTasks.startAsyncTask(task(self.lr.lua.execute("return " + code), *args))
        self.lr.run_tasks(timeout=30)
        assert self.lr.task_errors == []

    def poll(self, times: int = 1) -> None:
        self.run("function(batch, times) for _ = 1, times do batch:poll() end end", self.batch, times)

    @property
    def calls(self) -> list[str]:
        return list(self.client.calls.values())

    def states(self) -> list[str]:
        return [item.state for item in self.batch["items"].values()]

    def errors(self) -> list[str]:
        return [e.message for e in self.batch.errors(self.batch).values()]


def job(lr: Lightroom, job_id: str, status: str = "running", **fields: Any) -> Any:
    return lr.table({"id": job_id, "status": status, "progress": 0.5, **fields}), None


def failure(lr: Lightroom, **err: Any) -> tuple[None, Any]:
    return None, lr.table(err)


def test_a_poll_asks_about_the_first_few_unfinished_jobs_only(lr: Lightroom, photo_folder: Path) -> None:
    """A 500-photo batch asked about every job after every render: ~n^2/2 status calls."""
    finished: set[str] = set()

    def answer(job_id: str) -> Any:
        return job(lr, job_id, "done" if job_id in finished else "queued",
                   outputs=[str(photo_folder / f"{job_id}.motion.gif")])

    batch = Batch(lr, photo_folder, 10, answer, props={"sm_format": "gif"})
    window = lr.require("AnimateBatch").POLL_WINDOW
    batch.poll()
    assert batch.calls == [f"job j{i}" for i in range(1, window + 1)]
    finished.update({"j1", "j2"})     # two finish: the window moves on past them
    for name in ("j1", "j2"):
        (photo_folder / f"{name}.motion.gif").write_bytes(b"GIF89a")
    batch.poll()
    assert batch.states()[:3] == ["done", "done", "submitted"]
    batch.client.calls = lr.table([])
    batch.poll()
    assert batch.calls == [f"job j{i}" for i in range(3, window + 3)]


def test_a_daemon_that_answers_but_cannot_say_fails_the_job_instead_of_polling_for_ever(
        lr: Lightroom, photo_folder: Path) -> None:
    batch = Batch(lr, photo_folder, 1, lambda job_id: failure(
        lr, kind="http", status=500, message="The daemon answered HTTP 500 to job status."))
    limit = lr.require("AnimateBatch").MAX_POLL_ERRORS
    batch.poll(limit - 1)
    assert batch.states() == ["submitted"]
    batch.poll()
    assert batch.states() == ["failed"]
    (message,) = batch.errors()
    assert "HTTP 500" in message and "may still appear beside the photo" in message


def test_a_status_call_that_times_out_does_not_end_the_batch(lr: Lightroom, photo_folder: Path) -> None:
    """The daemon is busy, not gone: the health check answers, so the job is asked again."""
    answers = iter([failure(lr, kind="unreachable", code="timedOut", message="did not answer in time")])

    def answer(job_id: str) -> Any:
        return next(answers, None) or job(lr, job_id, "running")

    batch = Batch(lr, photo_folder, 2, answer)
    batch.poll()
    assert batch.calls == ["job j1", "health", "job j2"]
    assert batch.states() == ["submitted", "submitted"] and batch.batch.aborted is None


def test_a_daemon_that_is_gone_fails_every_job_at_once_with_one_message(lr: Lightroom, photo_folder: Path) -> None:
    lr.require("AnimateBatch").RECONNECT_SECONDS = 0      # not waited for (see the test below)
    batch = Batch(lr, photo_folder, 6, lambda job_id: failure(
        lr, kind="unreachable", code="cannotConnectToHost", message="The Stillmotion daemon is not running."),
        healthy=False)
    batch.poll()
    assert batch.calls == ["job j1", "health"]           # nothing more is asked of it
    assert batch.states() == ["failed"] * 6
    # The daemon keeps the jobs it took and runs them when started again: not "try again".
    assert set(batch.errors()) == {lr.require("AnimateBatch").SENT_BEFORE_STOP}
    assert batch.batch.aborted == "The Stillmotion daemon is not running."   # for photos not yet sent


def test_a_daemon_that_restarts_is_waited_for_and_its_jobs_followed_on(lr: Lightroom, photo_folder: Path) -> None:
    """A crashed daemon restarted by its service manager: the batch failed every job at once."""
    module = lr.require("AnimateBatch")
    module.RECONNECT_SECONDS, module.RECONNECT_POLL_SECONDS = 5, 0.01
    health_checks: list[bool] = []

    def back_at_the_third_health_check() -> bool:
        health_checks.append(len(health_checks) >= 2)
        return health_checks[-1]

    gone = failure(lr, kind="unreachable", code="cannotConnectToHost", message="The Stillmotion daemon is not running.")
    batch = Batch(lr, photo_folder, 2, lambda job_id: gone if not any(health_checks) else job(lr, job_id),
                  healthy=back_at_the_third_health_check)
    batch.poll()
    assert batch.calls == ["job j1", "health", "health", "health", "job j2"]
    assert batch.states() == ["submitted", "submitted"] and batch.batch.aborted is None
    batch.poll()
    assert batch.calls[-2:] == ["job j1", "job j2"] and batch.errors() == []


def test_a_job_error_without_a_message_still_makes_a_summary(lr: Lightroom, photo_folder: Path) -> None:
    batch = Batch(lr, photo_folder, 1, lambda job_id: job(lr, job_id, "failed", error=lr.table({})))
    batch.poll()
    module = lr.require("AnimateBatch")
    title, body = module.summary(batch.batch.errors(batch.batch), 1, 0)
    assert "Animated 0 of 1 photos" in title and body.endswith("the job failed without a message")


@pytest.mark.parametrize("status", ["done", "canceled"])   # canceled: after its first variant
def test_cancel_keeps_a_clip_that_finished_before_the_cancel_reached_it(lr: Lightroom, photo_folder: Path,
                                                                       status: str) -> None:
    clip = photo_folder / "IMG_0001.motion.mp4"
    clip.write_bytes(b"\0")

    def cancel(job_id: str) -> Any:
        made = [str(clip)] if job_id == "j1" else []
        return lr.table({"id": job_id, "status": status if made else "canceled", "outputs": made})

    batch = Batch(lr, photo_folder, 2, lambda job_id: job(lr, job_id, "running"), cancel=cancel)
    batch.run("function(batch) batch:cancelAll() end", batch.batch)
    assert batch.calls == ["cancel j1", "cancel j2"] and batch.states() == ["done", "canceled"]
    assert lr.field(batch.photos[0], "lastClip") == str(clip) and lr.stack(batch.photos[0]) is not None


def test_takes_made_before_a_job_failed_are_added_and_the_failure_still_said(lr: Lightroom, photo_folder: Path) -> None:
    """--variants 3 whose disk filled at the third take: the daemon lists the two made in the
    failed job's outputs; the plug-in left them out of the catalog, as if nothing had been made."""
    clips = [photo_folder / "IMG_0001.motion.mp4", photo_folder / "IMG_0001.motion-2.mp4"]
    for clip in clips:
        clip.write_bytes(b"\0")
    outputs = [str(clips[0]), str(clips[0].with_suffix(".xmp")), str(clips[1]), str(clips[1].with_suffix(".xmp"))]
    batch = Batch(lr, photo_folder, 1, lambda job_id: job(
        lr, job_id, "failed", outputs=outputs,
        error=lr.table({"code": "job_failed", "message": "cannot write take 3 of 3 of IMG_0001.jpg: No space left"})))
    batch.poll()
    assert batch.states() == ["failed"]
    assert batch.errors() == ["cannot write take 3 of 3 of IMG_0001.jpg: No space left "
                              "(2 takes made before it kept beside the photo, added to the catalog)"]
    assert lr.field(batch.photos[0], "lastClip") == str(clips[1]) and lr.stack(batch.photos[0]) is not None


def test_takes_made_again_go_on_top_of_the_stack(lr: Lightroom, photo_folder: Path) -> None:
    """--variants 2, then made again (a republish after an edit): the new takes went right above
    the last take before, under the first one, so the collapsed stack kept showing a take
    made before the edit. A job's takes go on top, its first take first."""
    before = [photo_folder / f"IMG_0001.motion{s}.mp4" for s in ("", "-2")]
    again = [photo_folder / f"IMG_0001.motion{s}.mp4" for s in ("-3", "-4")]
    for clip in before + again:
        clip.write_bytes(b"\0")
    outputs = {"j1": [str(c) for c in before], "j2": [str(c) for c in again]}
    batch = Batch(lr, photo_folder, 2, lambda job_id: job(lr, job_id, "done", outputs=outputs[job_id]))
    batch.poll()
    assert batch.states() == ["done", "done"]
    photo = batch.photos[0]
    assert lr.stack(photo) == [str(c) for c in again + before] + [photo.path]


@pytest.mark.parametrize("fmt, imported", [("mp4", True), ("gif", False), ("webp", False)])
def test_only_clips_lightroom_imports_are_added_to_the_catalog(lr: Lightroom, photo_folder: Path,
                                                               fmt: str, imported: bool) -> None:
    """Lightroom imports no GIF (and a WebP as a still): those clips stay beside the photo, and
    the photo's Last clip field still names them; nothing to report."""
    clip = photo_folder / f"IMG_0001.motion.{fmt}"
    clip.write_bytes(b"\0")
    batch = Batch(lr, photo_folder, 1, lambda job_id: job(lr, job_id, "done", outputs=[str(clip)]),
                  props={"sm_format": fmt})
    batch.poll()
    assert batch.states() == ["done"] and batch.errors() == []
    assert (lr.stack(batch.photos[0]) is not None) == imported
    assert lr.field(batch.photos[0], "lastClip") == str(clip)


def test_a_busy_catalog_is_reported_and_the_clip_kept(lr: Lightroom, photo_folder: Path) -> None:
    """Lightroom (or another plug-in) holds the catalog longer than the plug-in waits."""
    clip = photo_folder / "IMG_0001.motion.mp4"
    clip.write_bytes(b"\0")
    batch = Batch(lr, photo_folder, 1, lambda job_id: job(lr, job_id, "done", outputs=[str(clip)]))
    lr.catalog.busy = True
    batch.poll()
    assert batch.states() == ["done"] and lr.stack(batch.photos[0]) is None and clip.exists()
    (message,) = batch.errors()
    assert message == f"clip made ({clip}) but not added to the catalog: the catalog stayed busy for 30 seconds"


def test_a_catalog_error_is_reported_without_the_plugins_file_and_line(lr: Lightroom, photo_folder: Path) -> None:
    """A clip Lightroom cannot see (a daemon on another machine or in WSL names a path of its own)
    was reported as ".../AnimateBatch.lua:196: LrCatalog:addPhoto: file not found: ...": the
    photographer gets Lightroom's words, not the plug-in's source position."""
    clip = "/Volumes/elsewhere/IMG_0001.motion.mp4"
    batch = Batch(lr, photo_folder, 1, lambda job_id: job(lr, job_id, "done", outputs=[clip]))
    batch.poll()
    (message,) = batch.errors()
    assert message == (f"clip made ({clip}) but not added to the catalog: "
                       f"LrCatalog:addPhoto: file not found: {clip}")


def test_a_long_prompt_is_cut_between_characters(lr: Lightroom, photo_folder: Path) -> None:
    """2,000 characters is the daemon's limit; cut at a byte count, a CJK prompt ended inside
    a character, and the daemon refused the whole request as not being text."""
    from stillmotion.request import AnimateRequest

    settings = lr.require("AnimateSettings")
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg", prompt="波" * 2100)
    prompt = settings.request(settings.defaults(), photo).prompt
    assert prompt == "波" * 2000 and AnimateRequest.from_dict({"prompt": prompt}).prompt == prompt
    assert [settings.firstCharacters("añ波b", n) for n in (1, 2, 3, 9)] == ["a", "añ", "añ波", "añ波b"]


def test_the_caption_follows_the_photo_rendering_with_its_time_left(lr: Lightroom, photo_folder: Path) -> None:
    """Each poll captioned every job of its window in turn, so the caption left showing was the
    last one's: 'queued 5%' while the first photo rendered, and never the time left."""
    def answer(job_id: str) -> Any:
        if job_id == "j1":
            return job(lr, job_id, "running", stage="encode", progress=0.4, eta=12.3)
        return job(lr, job_id, "queued", stage="queued", progress=0, queue_position=int(job_id[1:]) - 1)

    batch = Batch(lr, photo_folder, 6, answer)
    captions = lr.table([])
    batch.progress.setCaption = lr.lua.eval("function(captions) return function(self, text) "
                                            "captions[#captions + 1] = text end end")(captions)
    batch.poll()
    shown = list(captions.values())[-1]
    assert "encode" in shown and "12 s left" in shown, shown
    assert "queued" not in shown, shown


def test_a_batch_waiting_behind_other_work_says_how_much_is_before_it(lr: Lightroom, photo_folder: Path) -> None:
    def answer(job_id: str) -> Any:    # another client's two jobs come first
        return job(lr, job_id, "queued", stage="queued", progress=0, queue_position=int(job_id[1:]) + 2)

    batch = Batch(lr, photo_folder, 3, answer)
    captions = lr.table([])
    batch.progress.setCaption = lr.lua.eval("function(captions) return function(self, text) "
                                            "captions[#captions + 1] = text end end")(captions)
    batch.poll()
    assert list(captions.values())[-1] == "IMG_0001.jpg: queued 5%, 2 in the queue before it (0 of 3 finished)"
