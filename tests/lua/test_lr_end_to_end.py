"""The plug-in end to end: its own Lua files under Lua 5.1, the fake Lightroom SDK, and
a real `stillmotion serve` answering real HTTP. Small photos (320x240) and short clips
(0.5 s at 8 fps) keep it fast."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av
import pytest

from lrphotos import real_photo
from lrdaemon import Daemon, start_daemon
from lrsim import Lightroom, json_field

FAST = {"sm_duration": "0.5", "sm_fps": 8}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("stillmotion-home"))
    yield d
    d.stop()


@pytest.fixture
def lr(tmp_path: Path, daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> Lightroom:
    """Lightroom on the same machine as the daemon: the token is found, not typed."""
    monkeypatch.setenv("STILLMOTION_HOME", str(daemon.home))
    sim = Lightroom(tmp_path)
    sim.prefs_url(daemon.url)
    sim.require("AnimateBatch").POLL_SECONDS = 0.1
    return sim


def clip_frames(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.width, stream.codec_context.height


def job_ids(lr: Lightroom) -> list[str]:
    return [json.loads(r["response"])["id"] for r in lr.requests("/v1/jobs")
            if r["method"] == "POST" and r.get("status") == 202]


def test_export_two_photos_with_the_animate_preset(lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    one = lr.import_photo(photo_folder / "IMG_0001.jpg", title="Astronaut", develop={"Exposure2012": 0.25},
                          prompt="she smiles and the flag stirs", profile="portrait")
    two = lr.import_photo(photo_folder / "IMG_0002.jpg", caption="Coffee on a table")
    settings = lr.preset()["settings"] | FAST          # right-click > Export > Animate
    lr.export([one, two], settings)
    lr.run_tasks(timeout=120)

    # The daemon here has no generative model: the clip is made, and the one summary says
    # that the photo's prompt could not be followed (a caption alone is no one's request).
    assert lr.task_errors == [] and [d["info"] for d in lr.dialogs] == [
        "IMG_0001.jpg: clip made; note: the prompt was not used: "
        "the parallax engine follows no text prompt"]
    for photo, stem in ((one, "IMG_0001"), (two, "IMG_0002")):
        clip = photo_folder / f"{stem}.motion.mp4"
        assert clip.is_file() and (photo_folder / f"{stem}.motion.xmp").is_file()
        frames, width, height = clip_frames(clip)
        assert frames == 4 and max(width, height) <= 320        # 0.5 s x 8 fps
        assert lr.stack(photo) == [str(clip), photo.path]         # in the catalog, stacked above
        assert lr.field(photo, "lastClip") == str(clip)
    assert sorted(p.name for p in photo_folder.iterdir() if p.name.startswith(".")) == []

    uploads = lr.requests("/v1/jobs")
    posts = [r for r in uploads if r["method"] == "POST"]
    assert len(posts) == 2 and all(r["headers"]["Authorization"] == f"Bearer {daemon.token}" for r in posts)
    # Each submission carries its own Idempotency-Key (what makes a retry safe).
    keys = [r["headers"].get("Idempotency-Key") for r in posts]
    assert all(keys) and keys[0] != keys[1] and all(len(k) <= 200 for k in keys)
    first = posts[0]
    assert first["fields"]["original_path"] == one.path
    assert first["fields"]["image"]["content_type"] == "image/jpeg"
    assert json_field(first, "develop") == {"Exposure2012": 0.25, "stillmotionPrompt": "she smiles and the flag stirs"}
    sent = json_field(first, "settings")
    assert sent["profile"] == "portrait" and sent["prompt"] == "she smiles and the flag stirs"
    assert sent["duration"] == 0.5 and sent["fps"] == 8
    job = daemon.get(f"/v1/jobs/{job_ids(lr)[0]}")
    assert job["status"] == "done"

    progress = lr.fake.exportProgress
    assert progress.finished and progress.portion == pytest.approx(1.0) and not progress.wentBackwards
    # Lightroom's temporary renders are gone once uploaded.
    assert not any(p.is_file() for p in lr.temp.rglob("*"))


@pytest.mark.parametrize("lost_as", ["timedOut", "networkConnectionLost"])
def test_a_submission_whose_answer_is_lost_is_retried_and_makes_one_clip(
        lr: Lightroom, daemon: Daemon, photo_folder: Path, lost_as: str) -> None:
    """The daemon gets the upload and makes the clip, but the plug-in hears a timeout (or a
    reset): it sends the same upload again with the same key and gets the same job back."""
    lr.require("StillmotionAPI").SUBMIT_RETRY_SECONDS = lr.table([0.1, 0.1])
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg")
    deliver = lr.bridge.http
    lost: list[str] = []

    def lose_the_first_answer(method, url, headers, body, parts, timeout):
        answer = deliver(method, url, headers, body, parts, timeout)
        if method == "POST" and url.endswith("/v1/jobs") and not lost:
            lost.append(json.loads(lr.bridge.requests[-1]["response"])["id"])
            # The job is finished by the time the retry comes: the daemon's "same live job"
            # check cannot help any more, only the key can.
            assert daemon.wait_job(lost[0])["status"] == "done"
            return lr.bridge._error(lost_as, "The answer was lost.")
        return answer

    lr.bridge.http = lose_the_first_answer
    lr.export([photo], FAST)
    lr.run_tasks(timeout=120)

    assert lr.task_errors == [] and lr.dialogs == []
    posts = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"]
    assert len(posts) == 2
    assert posts[0]["headers"]["Idempotency-Key"] == posts[1]["headers"]["Idempotency-Key"]
    assert posts[0]["fields"] == posts[1]["fields"]
    assert posts[1]["status"] == 202 and json.loads(posts[1]["response"])["id"] == lost[0]
    clip = photo_folder / "IMG_0001.motion.mp4"
    assert sorted(p.name for p in photo_folder.glob("IMG_0001.motion*")) == ["IMG_0001.motion.mp4",
                                                                             "IMG_0001.motion.xmp"]
    assert lr.stack(photo) == [str(clip), photo.path]
    assert [j["id"] for j in daemon.get("/v1/jobs")["jobs"] if j["original_path"] == photo.path] == lost


def test_cancel_mid_job_cancels_it_on_the_daemon(lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg")
    seen_running: list[str] = []

    def press_cancel_once_running() -> None:
        for r in lr.requests("/v1/jobs/"):
            if r["method"] == "GET" and r.get("status") == 200 and json.loads(r["response"])["status"] == "running":
                if not seen_running:
                    seen_running.append(json.loads(r["response"])["id"])
                    lr.fake.exportProgress.cancel(lr.fake.exportProgress)

    lr.on_tick(press_cancel_once_running)
    lr.export([photo], {"sm_duration": "30", "sm_fps": 30})      # long enough to be caught running
    lr.run_tasks(timeout=60)

    assert seen_running, "the job was never seen running"
    job_id = seen_running[0]
    deletes = [r for r in lr.requests(f"/v1/jobs/{job_id}") if r["method"] == "DELETE"]
    assert len(deletes) == 1 and deletes[0]["status"] in (200, 202)
    assert daemon.wait_job(job_id)["status"] == "canceled"
    assert lr.task_errors == [] and lr.dialogs == []
    assert sorted(p.name for p in photo_folder.iterdir()) == ["IMG_0001.jpg", "IMG_0002.jpg"]
    assert lr.stack(photo) is None and lr.field(photo, "lastClip") is None


@contextmanager
def own_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Daemon, Lightroom]]:
    """A daemon of the test's own (one it may stop mid-export), and a Lightroom pointed at it."""
    own = start_daemon(tmp_path / "short-lived-home")
    try:
        monkeypatch.setenv("STILLMOTION_HOME", str(own.home))
        sim = Lightroom(tmp_path)
        sim.prefs_url(own.url)
        sim.require("AnimateBatch").POLL_SECONDS = 0.1
        sim.require("AnimateBatch").RECONNECT_SECONDS = 0.5   # these daemons stay stopped
        yield own, sim
    finally:
        own.stop()


def test_daemon_stopping_mid_export_is_reported_once(tmp_path: Path, photo_folder: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The report said "not running ... start it, then try again" of photos the daemon had
    already taken: it keeps its queue, makes those clips once started again, and exporting
    them again made each clip twice (IMG_0001.motion-2.mp4)."""
    with own_daemon(tmp_path, monkeypatch) as (own, sim):
        photos = [sim.import_photo(photo_folder / "IMG_0001.jpg"), sim.import_photo(photo_folder / "IMG_0002.jpg")]

        def stop_once_both_sent_and_running() -> None:
            if own.process.poll() is None and len(job_ids(sim)) == 2 and any(
                    r["method"] == "GET" and r.get("status") == 200 and '"running"' in r["response"]
                    for r in sim.requests("/v1/jobs/")):
                own.stop()

        sim.on_tick(stop_once_both_sent_and_running)
        sim.export(photos, {"sm_duration": "30", "sm_fps": 30})
        sim.run_tasks(timeout=60)
        assert sim.task_errors == []
        assert len(sim.dialogs) == 1 and sim.dialogs[0]["style"] == "warning"
        assert "Animated 0 of 2 photos" in sim.dialogs[0]["message"]
        (line,) = sim.dialogs[0]["info"].splitlines()
        assert line == ("IMG_0001.jpg, IMG_0002.jpg: sent before the daemon stopped: it still makes this clip "
                        "when it starts again, beside the photo (not added to the catalog), so there is no need "
                        "to export it again.")

        again = start_daemon(own.home)      # what the report says happens, happens
        try:
            assert [again.wait_job(j, timeout=120)["status"] for j in job_ids(sim)] == ["done", "done"]
        finally:
            again.stop()
    assert (photo_folder / "IMG_0001.motion.mp4").is_file() and (photo_folder / "IMG_0002.motion.mp4").is_file()


def test_a_daemon_restarted_mid_export_is_waited_for_and_every_clip_lands_in_the_catalog(
        tmp_path: Path, photo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A service manager restarts a crashed daemon within seconds, and its job store keeps the
    export's jobs: the export gave up at the first status call that found it gone ("Animated 0
    of 2 ... sent before the daemon stopped"), and the clips made after it came back stayed out
    of the catalog. It now waits for the daemon to answer again and follows the same jobs."""
    with own_daemon(tmp_path, monkeypatch) as (own, sim):
        sim.require("AnimateBatch").RECONNECT_SECONDS = 30
        photos = [sim.import_photo(photo_folder / "IMG_0001.jpg"), sim.import_photo(photo_folder / "IMG_0002.jpg")]
        restarted: list[Daemon] = []

        def stop_once_both_sent_then_start_once_found_gone() -> None:
            if own.process.poll() is None and not restarted and len(job_ids(sim)) == 2:
                own.stop()
            elif not restarted and any(r.get("error") == "cannotConnectToHost" for r in sim.requests("/v1/health")):
                restarted.append(start_daemon(own.home, port=int(own.url.rsplit(":", 1)[1])))

        sim.on_tick(stop_once_both_sent_then_start_once_found_gone)
        try:
            sim.export(photos, {"sm_duration": "2", "sm_fps": 12})
            sim.run_tasks(timeout=120)
        finally:
            for d in restarted:
                d.stop()
        assert restarted and sim.task_errors == [] and sim.dialogs == []
        for photo, stem in zip(photos, ("IMG_0001", "IMG_0002")):
            clip = str(photo_folder / f"{stem}.motion.mp4")
            assert sim.stack(photo) == [clip, photo.path]
        assert len(job_ids(sim)) == 2                   # nothing sent twice


def test_a_publish_cut_short_by_the_daemon_stopping_records_its_clip_at_the_next_publish(
        tmp_path: Path, photo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon stopped mid-publish: it made the clip when started again, but the photo stayed
    in "to publish", and the next Publish (Lightroom's own, for every such photo) made a second
    clip beside it (IMG_0001.motion-2.mp4) and recorded only that one."""
    with own_daemon(tmp_path, monkeypatch) as (own, sim):
        photo = sim.import_photo(photo_folder / "IMG_0001.jpg")
        service = sim.fake.createPublishService("Stillmotion", sim.table({"sm_duration": "8", "sm_fps": 24}))
        collection = service.createPublishedCollection(service, "Reels")
        sim.write(lambda: collection.addPhotos(collection, sim.table([photo])))

        def stop_once_running() -> None:
            if own.process.poll() is None and any(
                    r["method"] == "GET" and r.get("status") == 200 and '"running"' in r["response"]
                    for r in sim.requests("/v1/jobs/")):
                own.stop()

        sim.on_tick(stop_once_running)
        sim.fake.startPublish(collection)
        sim.run_tasks(timeout=60)
        assert sim.task_errors == [] and collection._state(collection, photo) == "new"
        assert [d["info"] for d in sim.dialogs] == [
            "IMG_0001.jpg: sent before the daemon stopped: it still makes this clip when it starts again, "
            "and the next Publish records that clip rather than making a second."]
        (job_id,) = job_ids(sim)

        again = start_daemon(own.home)
        try:
            assert again.wait_job(job_id, timeout=120)["status"] == "done"
            sim.prefs_url(again.url)
            sim.fake.tickHooks = sim.table([])
            # The daemon gone again by the time its job is asked about: the photo is not sent again.
            api = sim.require("StillmotionAPI")
            answering = api.job
            api.job = sim.lua.eval("function(self, id) return nil, { kind = 'unreachable', "
                                   "message = 'The Stillmotion daemon is not running.' } end")
            shown = len(sim.dialogs)
            sim.fake.startPublish(collection)
            sim.run_tasks(timeout=60)
            assert sim.task_errors == [] and collection._state(collection, photo) == "new"
            assert [d["info"] for d in sim.dialogs[shown:]] == [
                "IMG_0001.jpg: sent before the daemon stopped: it still makes this clip when it starts again, "
                "and the next Publish records that clip rather than making a second."]
            assert len(job_ids(sim)) == 1
            api.job = answering
            sim.fake.startPublish(collection)          # the photo is still "to publish"
            sim.run_tasks(timeout=60)
        finally:
            again.stop()
        assert sim.task_errors == []
        assert collection._state(collection, photo) == "published"
        clip = str(photo_folder / "IMG_0001.motion.mp4")
        assert collection.entries[photo].remoteId == clip
        assert sorted(p.name for p in photo_folder.glob("IMG_0001.motion*")) == ["IMG_0001.motion.mp4",
                                                                                "IMG_0001.motion.xmp"]
        assert sim.stack(photo) == [clip, photo.path] and sim.field(photo, "lastClip") == clip
        assert len(job_ids(sim)) == 1                   # nothing sent twice


def test_photos_after_the_daemon_went_away_are_not_rendered(tmp_path: Path, photo_folder: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A 200-photo export whose daemon stops after the first upload: Lightroom rendered the other
    199 photos at full size only to throw each render away. They are skipped, and reported."""
    with own_daemon(tmp_path, monkeypatch) as (own, sim):
        photos = [sim.import_photo(photo_folder / "IMG_0001.jpg"), sim.import_photo(photo_folder / "IMG_0002.jpg")]
        for i in range(3, 6):
            photos.append(sim.import_photo(real_photo(photo_folder / f"IMG_000{i}.jpg", "coffee")))

        def stop_after_first_upload() -> None:
            if own.process.poll() is None and any(
                    r["method"] == "POST" and r.get("status") == 202 for r in sim.requests("/v1/jobs")):
                own.stop()

        sim.on_tick(stop_after_first_upload)
        session = sim.export(photos, {"sm_duration": "30", "sm_fps": 30})
        sim.run_tasks(timeout=60)
    assert sim.task_errors == []
    renditions = list(session.renditionList.values())
    assert [r.wasSkipped for r in renditions] == [False, False, True, True, True]
    assert [r.rendered is None for r in renditions] == [False, False, True, True, True]
    sent, not_sent = sim.dialogs[0]["info"].splitlines()
    assert sent.startswith("IMG_0001.jpg: sent before the daemon stopped: ")
    assert not_sent.startswith("IMG_0002.jpg, IMG_0003.jpg, IMG_0004.jpg, IMG_0005.jpg: "
                               "The Stillmotion daemon is not running at")


def test_failed_photos_are_reported_once_and_the_others_animate(lr: Lightroom, photo_folder: Path) -> None:
    good = lr.import_photo(photo_folder / "IMG_0001.jpg")
    missing = lr.import_photo(photo_folder / "IMG_0404.jpg")            # its file is gone
    huge = lr.import_photo(real_photo(photo_folder / "IMG_HUGE.jpg", "rocket", (1400, 1000)))  # 1.4 MP > 1 MP
    other = lr.import_photo(photo_folder / "IMG_0002.jpg")
    lr.export([good, missing, huge, other], FAST)
    lr.run_tasks(timeout=120)

    assert lr.task_errors == []
    assert len(lr.dialogs) == 1
    report = lr.dialogs[0]
    assert report["kind"] == "message" and report["style"] == "warning"
    assert "Animated 2 of 4 photos" in report["message"]
    lines = report["info"].splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("IMG_0404.jpg: ") and "could not be found" in lines[0]
    assert lines[1].startswith("IMG_HUGE.jpg: image is 1400x1000") and "max_megapixels" in lines[1]
    assert (photo_folder / "IMG_0001.motion.mp4").is_file() and (photo_folder / "IMG_0002.motion.mp4").is_file()
    assert not (photo_folder / "IMG_HUGE.motion.mp4").exists()
    assert lr.stack(good) is not None and lr.stack(other) is not None and lr.stack(huge) is None


def test_photos_whose_originals_are_offline_are_reported_on_one_line_and_not_rendered(
        lr: Lightroom, photo_folder: Path, tmp_path: Path) -> None:
    """A collection with some originals on a drive that is not connected (Lightroom still renders
    them from smart previews): each was rendered, uploaded, refused by its own path
    ("original_path: no such file: /Volumes/Archive/..."), one line per photo in the report."""
    smart_preview = real_photo(tmp_path / "smart-preview.jpg", "rocket")
    render = lr.bridge.render
    lr.bridge.render = lambda src, *rest: render(str(smart_preview) if "Archive" in src else src, *rest)
    offline = [lr.import_photo(Path("/Volumes/Archive/2019") / f"DSC_{i:04d}.NEF") for i in range(1, 8)]
    good = lr.import_photo(photo_folder / "IMG_0001.jpg")
    session = lr.export([offline[0], good, *offline[1:]], FAST)
    lr.run_tasks(timeout=120)

    assert lr.task_errors == [] and len(lr.dialogs) == 1
    assert "Animated 1 of 8 photos" in lr.dialogs[0]["message"]
    (line,) = lr.dialogs[0]["info"].splitlines()
    assert line == ("DSC_0001.NEF, DSC_0002.NEF, DSC_0003.NEF, DSC_0004.NEF, DSC_0005.NEF and 2 more: "
                    "the original could not be found (missing, or on a drive that is not connected); "
                    "the clip goes beside it, so reconnect it and export again.")
    assert [r.wasSkipped for r in session.renditionList.values()] == [True, False] + [True] * 6
    posts = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"]
    assert [r["fields"]["original_path"] for r in posts] == [good.path]
    assert lr.stack(good) is not None and all(lr.field(p, "lastClip") is None for p in offline)


def test_a_setting_the_daemon_set_aside_is_reported_with_the_clip(lr: Lightroom, photo_folder: Path) -> None:
    """The clip is made, stacked, and the one summary says which setting was not used."""
    odd = lr.import_photo(photo_folder / "IMG_0001.jpg", develop={"GrainAmount": "lots", "Exposure2012": 0.3})
    lr.export([odd], FAST)
    lr.run_tasks(timeout=120)

    assert lr.task_errors == [] and lr.stack(odd) is not None
    assert len(lr.dialogs) == 1
    report = lr.dialogs[0]
    assert "Animated 1 of 1 photos" in report["message"]
    lines = report["info"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("IMG_0001.jpg: clip made; note: ")
    assert "GrainAmount" in lines[0] and "Exposure" not in lines[0]


def test_publish_then_republish_after_edits_then_remove(lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    one = lr.import_photo(photo_folder / "IMG_0001.jpg", develop={"Exposure2012": 0.0})
    two = lr.import_photo(photo_folder / "IMG_0002.jpg")
    # "Remove clips" is offered for clips not imported only: the SDK cannot take a photo out
    # of the catalog, so a trashed clip would stay there as a missing file.
    service = lr.fake.createPublishService("Stillmotion", lr.table(FAST | {"sm_removeClips": True,
                                                                          "sm_importToCatalog": False}))
    collection = service.createPublishedCollection(service, "Reels")
    lr.write(lambda: collection.addPhotos(collection, lr.table([one, two])))
    state = lambda p: collection._state(collection, p)  # noqa: E731
    assert state(one) == state(two) == "new"

    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and lr.dialogs == []
    first = {p.path: collection.entries[p].remoteId for p in (one, two)}
    assert first == {one.path: str(photo_folder / "IMG_0001.motion.mp4"), two.path: str(photo_folder / "IMG_0002.motion.mp4")}
    assert collection.entries[one].remoteUrl.startswith("file://") and state(one) == state(two) == "published"

    # A develop edit and a prompt edit call for republish; a readiness score does not.
    lr.write(lambda: one.applyDevelopSettings(one, lr.table({"Exposure2012": 0.8})))
    lr.write(lambda: two.setPropertyForPlugin(two, lr.fake.plugin, "readinessScore", "71"))
    assert state(two) == "published"
    lr.write(lambda: two.setPropertyForPlugin(two, lr.fake.plugin, "prompt", "steam rises from the cup"))
    assert state(one) == state(two) == "modified"

    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    # The clips are made; the one warning is the prompt the CPU engine cannot follow.
    assert lr.task_errors == [] and [d["info"] for d in lr.dialogs] == [
        "IMG_0002.jpg: clip made; note: the prompt was not used: "
        "the parallax engine follows no text prompt"]
    assert state(one) == state(two) == "published"
    second = {p.path: collection.entries[p].remoteId for p in (one, two)}
    assert second[one.path] == str(photo_folder / "IMG_0001.motion-2.mp4")
    assert second[two.path] == str(photo_folder / "IMG_0002.motion-2.mp4")
    republished = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"][-2:]
    assert json_field(republished[0], "develop")["Exposure2012"] == 0.8
    assert json_field(republished[1], "settings")["prompt"] == "steam rises from the cup"
    # The old clips went to the Trash with their sidecars (the service's "Remove clips" option).
    assert sorted(p.name for p in photo_folder.glob("IMG_000[12].motion*")) == [
        "IMG_0001.motion-2.mp4", "IMG_0001.motion-2.xmp", "IMG_0002.motion-2.mp4", "IMG_0002.motion-2.xmp"]
    assert lr.stack(one) is None and lr.field(one, "lastClip") == second[one.path]

    lr.write(lambda: collection.removePhotos(collection, lr.table([two])))
    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=60)
    assert not Path(second[two.path]).exists() and Path(second[one.path]).exists()
    assert not Path(second[two.path]).with_suffix(".xmp").exists()
    assert len(collection.pendingDeletes) == 0 and len(lr.dialogs) == 1


def test_a_published_clip_in_the_catalog_is_not_trashed(lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    """Imported and stacked, a clip is the catalog's: trashed, it would stay there as a missing
    file (no SDK call takes a photo out of the catalog). So it stays, with "Remove clips" on."""
    one = lr.import_photo(photo_folder / "IMG_0001.jpg", develop={"Exposure2012": 0.0})
    service = lr.fake.createPublishService("Stillmotion", lr.table(FAST | {"sm_removeClips": True}))
    collection = service.createPublishedCollection(service, "Reels")
    lr.write(lambda: collection.addPhotos(collection, lr.table([one])))
    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    lr.write(lambda: one.applyDevelopSettings(one, lr.table({"Exposure2012": 0.8})))
    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and lr.dialogs == []
    first, second = (str(photo_folder / f"IMG_0001.{name}.mp4") for name in ("motion", "motion-2"))
    assert collection.entries[one].remoteId == second and Path(first).exists()
    # The new clip goes on top: a collapsed stack shows its top, which stayed the clip made
    # before the edit (the new one went in between, right above the photo).
    assert lr.stack(one) == [second, first, one.path]


def test_cancelling_a_publish_keeps_the_clips_already_made(lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    """Recorded as published, a finished clip is not made again by the next publish."""
    one, two = lr.import_photo(photo_folder / "IMG_0001.jpg"), lr.import_photo(photo_folder / "IMG_0002.jpg")
    service = lr.fake.createPublishService("Stillmotion", lr.table(FAST))
    collection = service.createPublishedCollection(service, "Reels")
    lr.write(lambda: collection.addPhotos(collection, lr.table([one, two])))

    def cancel_once_the_first_is_done() -> None:
        progress = lr.fake.exportProgress
        if progress and not progress.canceled and any(
                r["method"] == "GET" and '"done"' in r.get("response", "") for r in lr.requests("/v1/jobs/")):
            progress.cancel(progress)

    lr.on_tick(cancel_once_the_first_is_done)
    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and lr.dialogs == []
    assert collection._state(collection, one) == "published"
    assert collection.entries[one].remoteId == str(photo_folder / "IMG_0001.motion.mp4")
    assert lr.stack(one) == [str(photo_folder / "IMG_0001.motion.mp4"), one.path]



def test_a_video_in_a_published_collection_is_not_rendered_and_says_why(
        lr: Lightroom, daemon: Daemon, photo_folder: Path) -> None:
    """A video dragged into a published collection went to Lightroom's renderer at every Publish
    and failed with the renderer's message ("The file could not be read: ..."), never why."""
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg")
    (photo_folder / "MVI_0003.MP4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    video = lr.import_photo(photo_folder / "MVI_0003.MP4")
    service = lr.fake.createPublishService("Stillmotion", lr.table(FAST))
    collection = service.createPublishedCollection(service, "Reels")
    lr.write(lambda: collection.addPhotos(collection, lr.table([photo, video])))
    lr.fake.startPublish(collection)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and [d["info"] for d in lr.dialogs] == [
        "MVI_0003.MP4: a video: Stillmotion animates photos only; leave it out of the export, "
        "or remove it from the published collection."]
    assert lr.fake.lastPublishSession.renditionList[2].wasSkipped
    assert collection._state(collection, photo) == "published" and collection._state(collection, video) == "new"


def test_menu_item_animates_the_selection_from_a_16_bit_tiff(lr: Lightroom, photo_folder: Path) -> None:
    photo = lr.import_photo(photo_folder / "IMG_0002.jpg")
    lr.select([photo])

    def fill_in_dialog(entry) -> str:
        props = entry.contents.bind_to_object
        props.sm_renderFormat = "TIFF"
        props.sm_duration = "0.5"
        props.sm_fps = 8
        props.sm_variants = 2
        props.sm_importToCatalog = False
        return "ok"

    lr.fake.modalHandler = fill_in_dialog
    lr.fake.chooseMenuItem("Animate selected photos...")
    lr.run_tasks(timeout=120)

    assert lr.task_errors == []
    assert [d["kind"] for d in lr.dialogs] == ["modal"]
    upload = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"][0]
    assert upload["fields"]["image"]["content_type"] == "image/tiff"
    clips = sorted(p.name for p in photo_folder.glob("IMG_0002.motion*.mp4"))
    assert clips == ["IMG_0002.motion-2.mp4", "IMG_0002.motion.mp4"]     # two variants
    assert lr.stack(photo) is None                                   # import was switched off
    assert lr.field(photo, "lastClip") == str(photo_folder / "IMG_0002.motion-2.mp4")
    assert lr.fake.prefs.lastAnimateSettings.sm_renderFormat == "TIFF"   # remembered for next time


def test_plugin_manager_test_connection(lr: Lightroom, daemon: Daemon) -> None:
    panel = lr.fake.runFile("PluginInfoProvider.lua")
    props = lr.fake.makePropertyTable()
    panel.startDialog(props)
    assert "token is read from" in props.tokenHint
    panel.testConnection(props)
    lr.run_tasks()
    assert props.connectionStatus.startswith("Connected to Stillmotion") and daemon.url in props.connectionStatus
    props.token = "not-the-token"
    panel.testConnection(props)
    lr.run_tasks()
    assert "refused the token" in props.connectionStatus


def test_check_video_readiness_fills_the_per_photo_fields(lr: Lightroom, photo_folder: Path) -> None:
    portrait = lr.import_photo(photo_folder / "IMG_0001.jpg")
    tiny = lr.import_photo(real_photo(photo_folder / "IMG_TINY.jpg", "chelsea", (96, 64)))
    lr.select([portrait, tiny])
    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=120)

    assert lr.task_errors == [] and lr.dialogs == []
    analyses = [r for r in lr.requests("/v1/analyze") if r["method"] == "POST"]
    assert [r["status"] for r in analyses] == [200, 200]
    for photo, request in zip((portrait, tiny), analyses):
        report = json.loads(request["response"])
        score = lr.field(photo, "readinessScore")
        assert score == "%03d" % round(report["score"] * 100)
        advice = lr.field(photo, "readinessAdvice")
        assert advice.startswith(report["verdict_text"][0].upper()) and report["suggested_profile"] in advice
        assert request["fields"]["original_path"] == photo.path
    # The 96x64 photo is told why it is a poor candidate.
    assert int(lr.field(tiny, "readinessScore")) < int(lr.field(portrait, "readinessScore"))
    assert "Resolution too low" in lr.field(tiny, "readinessAdvice")
    assert not any(p.is_file() for p in lr.temp.rglob("*"))     # renders removed


def test_check_video_readiness_with_the_catalog_busy_says_so(lr: Lightroom, photo_folder: Path) -> None:
    """Another writer holding the catalog (an Animate export importing clips) is one line per
    photo in the report, not an internal error that ends the run."""
    photos = [lr.import_photo(photo_folder / "IMG_0001.jpg"), lr.import_photo(photo_folder / "IMG_0002.jpg")]
    lr.select(photos)
    lr.catalog.busy = True
    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and len(lr.dialogs) == 1
    assert lr.dialogs[0]["message"] == "Checked 0 of 2 photos."
    assert lr.dialogs[0]["info"] == "IMG_0001.jpg, IMG_0002.jpg: the catalog stayed busy for 30 seconds"
    assert lr.field(photos[0], "readinessScore") is None


def test_a_virtual_copy_gets_its_own_clip_and_is_named_apart_from_its_master(
        lr: Lightroom, photo_folder: Path) -> None:
    """Master and virtual copy share one original: two clips, neither overwriting the other, each
    stacked with and recorded on its own photo, each made with its own develop settings."""
    master = lr.import_photo(photo_folder / "IMG_0001.jpg", develop={"Exposure2012": 0.0})
    copy = lr.import_photo(photo_folder / "IMG_0001.jpg", develop={"Exposure2012": 1.5}, copy_name="Copy 1")
    lr.export([master, copy], FAST)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and lr.dialogs == []
    posts = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"]
    assert [json_field(r, "develop")["Exposure2012"] for r in posts] == [0.0, 1.5]
    clips = {lr.field(master, "lastClip"), lr.field(copy, "lastClip")}
    assert clips == {str(photo_folder / "IMG_0001.motion.mp4"), str(photo_folder / "IMG_0001.motion-2.mp4")}
    assert lr.field(master, "lastClip") in lr.stack(master) and lr.field(copy, "lastClip") in lr.stack(copy)


def test_a_report_tells_a_virtual_copy_from_its_master(lr: Lightroom, photo_folder: Path) -> None:
    """"IMG_0001.jpg, IMG_0001.jpg: ..." did not say which of the two needs attention."""
    master = lr.import_photo(photo_folder / "IMG_0001.jpg")
    copy = lr.import_photo(photo_folder / "IMG_0001.jpg", copy_name="Copy 1")
    lr.select([master, copy])
    lr.catalog.busy = True
    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and len(lr.dialogs) == 1
    assert lr.dialogs[0]["info"] == "IMG_0001.jpg, IMG_0001.jpg (Copy 1): the catalog stayed busy for 30 seconds"


def test_a_report_tells_apart_photos_of_one_name_in_two_folders(lr: Lightroom, tmp_path: Path) -> None:
    """A collection from two cards: IMG_0001.jpg in two folders, one over the size limit. The
    report said "IMG_0001.jpg: image is 1400x1000 ..." without saying which of the two."""
    card_a, card_b = tmp_path / "Card A", tmp_path / "Card B"
    card_a.mkdir(), card_b.mkdir()
    small = lr.import_photo(real_photo(card_a / "IMG_0001.jpg"))
    huge = lr.import_photo(real_photo(card_b / "IMG_0001.jpg", "rocket", (1400, 1000)))   # 1.4 MP > 1 MP
    other = lr.import_photo(real_photo(card_b / "IMG_0002.jpg", "coffee", (1400, 1000)))
    lr.export([small, huge, other], FAST)
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and len(lr.dialogs) == 1
    (line,) = lr.dialogs[0]["info"].splitlines()
    assert line.startswith("IMG_0001.jpg in Card B, IMG_0002.jpg: image is 1400x1000")
    assert lr.stack(small) is not None


def texts(view) -> list[str]:
    """Every static text in a fake LrView tree."""
    out = [view.title] if view["_kind"] == "static_text" and isinstance(view.title, str) else []
    for _, child in view.items():
        if hasattr(child, "items") and child["_kind"]:
            out += texts(child)
    return out


def test_videos_selected_with_photos_are_left_out_of_animate_and_readiness(
        lr: Lightroom, photo_folder: Path) -> None:
    """A video in the selection was counted as a photo to animate, then sent to Lightroom's
    renderer and the daemon, and came back as a failure in the report."""
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg")
    (photo_folder / "MVI_0002.MP4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    video = lr.import_photo(photo_folder / "MVI_0002.MP4")
    lr.select([photo, video])
    seen: list[str] = []

    def fill_in_dialog(entry) -> str:
        seen.extend(texts(entry.contents))
        props = entry.contents.bind_to_object
        props.sm_duration, props.sm_fps = "0.5", 8
        return "ok"

    lr.fake.modalHandler = fill_in_dialog
    lr.fake.chooseMenuItem("Animate selected photos...")
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and [d["kind"] for d in lr.dialogs] == ["modal"]
    assert any(t.startswith("Animate 1 photo.") and "1 video is left out" in t for t in seen)
    posts = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"]
    assert [r["fields"]["original_path"] for r in posts] == [str(photo_folder / "IMG_0001.jpg")]

    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and [d["kind"] for d in lr.dialogs] == ["modal"]
    assert [r["fields"]["original_path"] for r in lr.requests("/v1/analyze")] == [str(photo_folder / "IMG_0001.jpg")]
    assert lr.field(video, "readinessScore") is None


def test_a_selection_of_videos_only_is_explained(lr: Lightroom, photo_folder: Path) -> None:
    (photo_folder / "MVI_0002.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  ")
    lr.select([lr.import_photo(photo_folder / "MVI_0002.MOV")])
    for item in ("Animate selected photos...", "Check video readiness"):
        lr.fake.chooseMenuItem(item)
        lr.run_tasks(timeout=30)
    assert lr.task_errors == [] and lr.requests("/v1/jobs") == [] and lr.requests("/v1/analyze") == []
    assert [d["kind"] for d in lr.dialogs] == ["message", "message"]
    assert all("videos" in d["info"] for d in lr.dialogs)


def test_cancel_during_a_render_leaves_no_render_behind(lr: Lightroom, photo_folder: Path) -> None:
    """Cancel pressed while Lightroom rendered the second of three photos: that full-size render
    was left in the temporary folder (every other render is deleted once uploaded)."""
    photos = [lr.import_photo(photo_folder / name) for name in ("IMG_0001.jpg", "IMG_0002.jpg")]
    photos.append(lr.import_photo(real_photo(photo_folder / "IMG_0003.jpg", "coffee")))

    def cancel_once_the_second_is_rendered() -> None:
        session = lr.fake.lastExportContext and lr.fake.lastExportContext.exportSession
        if session and session.renditionList[2].rendered is not None and not lr.fake.exportProgress.canceled:
            lr.fake.exportProgress.cancel(lr.fake.exportProgress)

    lr.on_tick(cancel_once_the_second_is_rendered)
    lr.export(photos, FAST)
    lr.run_tasks(timeout=60)
    assert lr.task_errors == []
    assert [p.name for p in lr.temp.rglob("*") if p.is_file()] == []


def test_cancelling_a_readiness_check_skips_the_photos_left(lr: Lightroom, photo_folder: Path) -> None:
    """Cancel after the first of three photos: the loop stopped claiming renditions, and
    Lightroom went on rendering the rest full size into a folder nothing cleans."""
    photos = [lr.import_photo(photo_folder / name) for name in ("IMG_0001.jpg", "IMG_0002.jpg")]
    photos.append(lr.import_photo(real_photo(photo_folder / "IMG_0003.jpg", "coffee")))
    lr.select(photos)

    def cancel_after_the_first_analysis() -> None:
        if lr.requests("/v1/analyze") and lr.requests("/v1/analyze")[0].get("status"):
            for scope in lr.fake.progressScopes.values():
                scope.cancel(scope)

    lr.on_tick(cancel_after_the_first_analysis)
    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=60)
    assert lr.task_errors == []
    renditions = list(lr.fake.lastSession.renditionList.values())
    assert [r.wasSkipped for r in renditions] == [False, False, True]    # the second was rendering
    assert lr.field(photos[0], "readinessScore") is not None and lr.field(photos[2], "readinessScore") is None


def test_a_german_lightroom_animates_and_scores_photos_with_non_ascii_names(
        tmp_path: Path, daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightroom on a German system (Lua writes and reads "0,35"), a folder and photo named
    with accents, Japanese and Portuguese metadata with an emoji: the clip is made with the
    settings as chosen and the readiness score is filled in."""
    monkeypatch.setenv("STILLMOTION_HOME", str(daemon.home))
    lr = Lightroom(tmp_path, decimal_comma=True)
    lr.prefs_url(daemon.url)
    lr.require("AnimateBatch").POLL_SECONDS = 0.1
    folder = tmp_path / "Bilder" / "Café Übersee 東京"
    folder.mkdir(parents=True)
    photo = lr.import_photo(real_photo(folder / "Ständchen São Paulo.jpg"), title="桜の下で 🌸",
                            caption="Açaí na praia", keywords=["Größe", "夏"],
                            develop={"Exposure2012": 0.35}, prompt="o vento sopra 🌬️ devagar")
    lr.export([photo], {"sm_duration": "0,5", "sm_fps": 23.976, "sm_motion": 0.15})
    lr.run_tasks(timeout=120)

    assert lr.task_errors == []
    assert [d["info"] for d in lr.dialogs] == [
        "Ständchen São Paulo.jpg: clip made; note: the prompt was not used: "
        "the parallax engine follows no text prompt"]
    clip = folder / "Ständchen São Paulo.motion.mp4"
    assert lr.stack(photo) == [str(clip), photo.path]
    post = [r for r in lr.requests("/v1/jobs") if r["method"] == "POST"][0]
    assert json_field(post, "develop") == {"Exposure2012": 0.35, "stillmotionPrompt": "o vento sopra 🌬️ devagar"}
    sent = json_field(post, "settings")
    assert (sent["duration"], sent["fps"], sent["motion"]) == (0.5, 23.976, 0.15)
    with av.open(str(clip)) as container:
        assert float(container.streams.video[0].average_rate) == pytest.approx(23.976, abs=1e-3)

    lr.select([photo])
    lr.fake.chooseMenuItem("Check video readiness")
    lr.run_tasks(timeout=120)
    assert lr.task_errors == [] and len(lr.dialogs) == 1
    report = json.loads([r for r in lr.requests("/v1/analyze") if r["method"] == "POST"][0]["response"])
    assert lr.field(photo, "readinessScore") == "%03d" % round(report["score"] * 100)
