"""The plug-in's own logic under Lua 5.1, without a daemon: prompt templates, the
request it builds (checked against the real AnimateRequest), the dialogs' bindings,
the daemon-down path, token discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrdaemon import free_port
from lrsim import Lightroom
from stillmotion.request import AnimateRequest


def lua_dict(table) -> dict:
    return {k: (lua_dict(v) if hasattr(v, "items") else v) for k, v in table.items()}


@pytest.mark.parametrize("template, tokens, expected", [
    ("{prompt}", {"prompt": "  waves roll in  "}, "waves roll in"),
    ("{title}. {prompt}", {"title": "", "prompt": "waves roll in"}, "waves roll in"),
    ("{title}. {prompt}", {"title": "Dawn", "prompt": ""}, "Dawn."),
    ("{title}, {caption}. {prompt}", {"title": "Dawn", "caption": "", "prompt": "mist lifts"}, "Dawn. mist lifts"),
    ("{caption} ({keywords})", {"caption": "A bay", "keywords": "sea, boats"}, "A bay (sea, boats)"),
    ("{prompt} {unknown}", {"prompt": "x"}, "x {unknown}"),
    ("{title}{caption}{prompt}", {"title": "", "caption": "", "prompt": ""}, ""),
    # The photo's own words are sent as written: only separators left by an empty token go.
    ("{title}. {caption}", {"title": "Dawn", "caption": "Wait... the mist lifts"}, "Dawn. Wait... the mist lifts"),
    ("{caption}", {"caption": "Le matin : la brume se lève ; e.g., vite"}, "Le matin : la brume se lève ; e.g., vite"),
    ("{title} - {caption}", {"title": "", "caption": "A bay"}, "A bay"),
    ("{title} | {caption}", {"title": "Dawn", "caption": ""}, "Dawn"),
    ("{title} / {caption}. {prompt}", {"title": "Dawn", "caption": "", "prompt": "mist lifts"}, "Dawn. mist lifts"),
    # ... also where they meet an empty token: only the template's separators go, never the
    # caption's own minus sign, ellipsis or colon (they read as separators around the empty token)
    ("{title}: {caption}", {"title": "", "caption": "-20 °C at dawn"}, "-20 °C at dawn"),
    ("{title} {caption}", {"title": "", "caption": "... and then the fog"}, "... and then the fog"),
    ("{caption} {keywords}, {prompt}", {"caption": "Wait...", "keywords": "", "prompt": "slow pan"},
     "Wait..., slow pan"),
])
def test_prompt_template(lr: Lightroom, template, tokens, expected) -> None:
    settings = lr.require("AnimateSettings")
    full = {"title": "", "caption": "", "keywords": "", "prompt": ""} | tokens
    assert settings.expandPrompt(template, lr.table(full)) == expected


def test_request_for_a_photo_is_a_valid_animate_request(lr: Lightroom, photo_folder: Path) -> None:
    settings = lr.require("AnimateSettings")
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg", title="Astronaut", caption="Portrait in a suit",
                            keywords=["space", "NASA"], develop={"Exposure2012": 0.35, "ToneCurvePV2012": [0, 0, 255, 255]},
                            prompt="she smiles slowly", profile="portrait")
    props = settings.defaults()
    props.sm_promptTemplate = "{title}: {prompt}"
    props.sm_duration = "0.5"
    props.sm_fps = 8
    props.sm_motion = 0.35
    props.sm_camera = "push-in"
    props.sm_profile = "environmental"     # the photo's own profile field wins
    props.sm_variants = 2
    request = lua_dict(settings.request(props, photo))
    assert request == {"engine": "auto", "profile": "portrait", "variants": 2, "loop": False,
                       "colour_match": True, "format": "mp4", "duration": 0.5, "motion": 0.35,
                       "camera": "push-in", "fps": 8, "prompt": "Astronaut: she smiles slowly"}
    parsed = AnimateRequest.from_dict(request)
    assert parsed.profile == "portrait" and parsed.fps == 8 and parsed.duration == 0.5
    props.sm_fps = 23.976                  # an NTSC rate from the menu is sent as it is, not floored
    assert AnimateRequest.from_dict(lua_dict(settings.request(props, photo))).fps == 23.976

    develop = lua_dict(settings.develop(photo))
    assert develop["stillmotionPrompt"] == "she smiles slowly"
    assert develop["Exposure2012"] == 0.35 and list(develop["ToneCurvePV2012"].values()) == [0, 0, 255, 255]


def test_defaults_leave_everything_to_the_profile(lr: Lightroom, photo_folder: Path) -> None:
    settings = lr.require("AnimateSettings")
    photo = lr.import_photo(photo_folder / "IMG_0002.jpg")
    request = lua_dict(settings.request(settings.defaults(), photo))
    assert request == {"engine": "auto", "profile": "auto", "variants": 1, "loop": False,
                       "colour_match": True, "format": "mp4"}
    AnimateRequest.from_dict(request)
    assert lua_dict(settings.develop(photo)) == {}


@pytest.mark.parametrize("field, value, message", [
    ("sm_duration", "0.2", "between 0.5 and 30"), ("sm_duration", "abc", "between 0.5 and 30"),
    ("sm_variants", 0, "1 to 16"), ("sm_engine", "magic", "engine"),
])
def test_bad_settings_disable_export_with_a_reason(lr: Lightroom, field, value, message) -> None:
    dialog = lr.require("AnimateDialog")
    settings = lr.require("AnimateSettings")
    props = lr.fake.makePropertyTable(settings.defaults())
    lr.prefs_url(f"http://127.0.0.1:{free_port()}")
    dialog.startDialog(props)
    assert props.LR_cantExportBecause is None
    props[field] = value
    assert message in props.LR_cantExportBecause
    lr.run_tasks()


def test_a_frame_rate_gif_and_webp_cannot_play_disables_export(lr: Lightroom) -> None:
    """GIF at 60 fps was accepted by the dialog: Lightroom rendered and uploaded every photo of
    the collection at full size, and the daemon refused each ("gif clips play at most 50
    frames per second")."""
    dialog = lr.require("AnimateDialog")
    props = lr.fake.makePropertyTable(lr.require("AnimateSettings").defaults())
    lr.prefs_url(f"http://127.0.0.1:{free_port()}")
    dialog.startDialog(props)
    props.sm_fps = 60
    assert props.LR_cantExportBecause is None            # MP4 plays 60 fps
    props.sm_format = "gif"
    assert props.LR_cantExportBecause == ("GIF and WebP clips play at most 50 frames per second: "
                                          "choose a lower frame rate, or MP4 or MOV.")
    props.sm_format = "webp"
    props.sm_fps = 50
    assert props.LR_cantExportBecause is None
    props.sm_fps = 59.94
    assert "at most 50 frames per second" in props.LR_cantExportBecause
    lr.run_tasks()


def test_export_dialog_binds_only_known_settings(lr: Lightroom) -> None:
    provider = lr.fake.provider()
    props = lr.fake.makePropertyTable(lr.fake.exportDefaults())
    lr.prefs_url(f"http://127.0.0.1:{free_port()}")
    provider.startDialog(props)
    f = lr.lua.eval("function(Fake) return Fake.modules.LrView.osFactory() end")(lr.fake)
    sections = provider.sectionsForTopOfDialog(f, props)
    views = [v for s in sections.values() for v in lr.fake.walkView(s).values()]
    bound = {v.value._bind for v in views if v.value is not None and not isinstance(v.value, (str, int, float))}
    preset_keys = {f.key for f in provider.exportPresetFields.values()}
    assert bound <= preset_keys
    assert preset_keys - bound == {"sm_removeClips"}     # publish-only option
    assert {"sm_importToCatalog", "sm_promptTemplate", "sm_colourMatch", "sm_profile"} <= bound
    # Lightroom imports MP4 and MOV clips only: the import box is off for GIF and WebP.
    (importing,) = [v for v in views if v.value is not None and getattr(v.value, "_bind", None) == "sm_importToCatalog"]
    assert importing.enabled._bind == "sm_format"
    assert [importing.enabled._spec.transform(f) for f in ("mp4", "mov", "gif", "webp")] == [True, True, False, False]
    texts = " ".join(str(v.title) for v in views if isinstance(v.title, str))
    assert "{prompt}" in texts and "{title}" in texts and "stack it above its photo" in texts
    lr.run_tasks()
    # No daemon at that port: the status line says how to start it.
    assert "stillmotion serve" in props.sm_daemonStatus
    assert set(lr.fake.provider().hideSections.values()) >= {"exportLocation", "fileNaming", "video"}


def test_the_publish_trash_option_is_offered_only_for_clips_not_in_the_catalog(lr: Lightroom) -> None:
    """The SDK cannot take a photo out of the catalog: a trashed imported clip would stay there
    as a missing file. GIF and WebP clips are never imported, so for them it is offered."""
    provider = lr.fake.provider()
    props = lr.fake.makePropertyTable(lr.fake.exportDefaults())
    props.LR_isExportForPublish = True
    f = lr.lua.eval("function(Fake) return Fake.modules.LrView.osFactory() end")(lr.fake)
    views = [v for s in provider.sectionsForTopOfDialog(f, props).values() for v in lr.fake.walkView(s).values()]
    (trash,) = [v for v in views if v.value is not None and getattr(v.value, "_bind", None) == "sm_removeClips"]
    offered = lambda importing, fmt: trash.enabled._spec.operation(  # noqa: E731
        None, lr.table({"sm_importToCatalog": importing, "sm_format": fmt}))
    assert [offered(True, "mp4"), offered(False, "mp4"), offered(True, "gif"), offered(True, "webp")] == \
        [False, True, True, True]
    lr.run_tasks()


# A client whose job(id) answers from a Python callable (a job table, or nil and an error).
JOB_CLIENT = """
return function(answer)
  local client = { asked = {} }
  function client:job(id)
    self.asked[#self.asked + 1] = id
    return answer(id)
  end
  return client
end
"""


def test_a_job_a_cut_short_publish_sent_is_followed_only_for_the_same_request(lr: Lightroom,
                                                                             photo_folder: Path) -> None:
    """A photo edited (or its service's settings changed) after the daemon stopped mid-publish
    wants a new clip at the next Publish, not the one its first job makes."""
    support = lr.require("PublishSupport")
    client = lr.lua.execute(JOB_CLIENT)(lambda job_id: lr.table({"id": job_id, "status": "running"}))
    photo, other = lr.import_photo(photo_folder / "IMG_0001.jpg"), lr.import_photo(photo_folder / "IMG_0002.jpg")
    service = lr.fake.createPublishService("Stillmotion", lr.table({}))
    reels, stories = (service.createPublishedCollection(service, name) for name in ("Reels", "Stories"))
    support.rememberUnfinished(reels, photo, "job-1", "develop A")
    support.rememberUnfinished(reels, other, "job-2", "develop B")
    assert support.takeUnfinished(client, stories, photo, "develop A") is None       # another collection's
    assert support.takeUnfinished(client, reels, photo, "develop A (edited)") is None
    assert support.takeUnfinished(client, reels, photo, "develop A") is None          # forgotten once asked
    assert support.takeUnfinished(client, reels, other, "develop B") == "job-2"
    assert support.takeUnfinished(client, reels, other, "develop B") is None          # forgotten once followed
    assert list(client.asked.values()) == ["job-2"]


def test_a_job_a_cut_short_publish_sent_is_kept_while_the_daemon_cannot_be_asked(lr: Lightroom,
                                                                                photo_folder: Path) -> None:
    """The daemon still down (or down again) at the next Publish: the job it took is remembered
    still, so the Publish after, with the daemon back, records its clip instead of sending the
    photo again for a second one (IMG.motion-2.mp4); a job the daemon lost or failed is forgotten."""
    support = lr.require("PublishSupport")
    answers: dict[str, tuple] = {}
    client = lr.lua.execute(JOB_CLIENT)(lambda job_id: answers[job_id])
    photo, other = lr.import_photo(photo_folder / "IMG_0001.jpg"), lr.import_photo(photo_folder / "IMG_0002.jpg")
    service = lr.fake.createPublishService("Stillmotion", lr.table({}))
    reels = service.createPublishedCollection(service, "Reels")
    support.rememberUnfinished(reels, photo, "job-1", "develop A")
    support.rememberUnfinished(reels, other, "job-2", "develop B")

    down = (None, lr.table({"kind": "unreachable", "message": "The Stillmotion daemon is not running."}))
    answers["job-1"] = answers["job-2"] = down
    for _ in range(2):
        assert support.takeUnfinished(client, reels, photo, "develop A") == (None, "job-1")
    answers["job-1"] = (lr.table({"id": "job-1", "status": "done"}), None)
    assert support.takeUnfinished(client, reels, photo, "develop A") == "job-1"

    answers["job-2"] = (None, lr.table({"kind": "http", "status": 404, "message": "no such job"}))
    assert support.takeUnfinished(client, reels, other, "develop B") is None
    answers["job-2"] = down
    assert support.takeUnfinished(client, reels, other, "develop B") is None          # forgotten: sent anew
    support.rememberUnfinished(reels, other, "job-3", "develop B")
    answers["job-3"] = (lr.table({"id": "job-3", "status": "failed"}), None)
    assert support.takeUnfinished(client, reels, other, "develop B") is None
    assert list(client.asked.values()) == ["job-1", "job-1", "job-1", "job-2", "job-3"]


def test_daemon_down_gives_one_clear_message_and_touches_nothing(lr: Lightroom, photo_folder: Path) -> None:
    port = free_port()
    lr.prefs_url(f"http://127.0.0.1:{port}")
    photos = [lr.import_photo(photo_folder / "IMG_0001.jpg"), lr.import_photo(photo_folder / "IMG_0002.jpg")]
    lr.export(photos, lr.preset()["settings"])
    lr.run_tasks()
    assert lr.task_errors == []
    assert len(lr.dialogs) == 1
    dialog = lr.dialogs[0]
    assert dialog["kind"] == "userError"
    assert f"not running at http://127.0.0.1:{port}" in dialog["message"]
    assert '"stillmotion serve"' in dialog["message"]
    assert [r["url"] for r in lr.bridge.requests] == [f"http://127.0.0.1:{port}/v1/health"]
    assert sorted(p.name for p in photo_folder.iterdir()) == ["IMG_0001.jpg", "IMG_0002.jpg"]
    assert lr.stack(photos[0]) is None


def test_token_discovery_order(lr: Lightroom, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = lr.require("DaemonConnection")
    mac_default = lr.home / "Library" / "Application Support" / "stillmotion"
    mac_default.mkdir(parents=True)
    (mac_default / "token").write_text("from-platform-folder\n")
    monkeypatch.delenv("STILLMOTION_HOME", raising=False)
    assert tuple(conn.discoverToken()) == ("from-platform-folder", str(mac_default / "token"))
    home = tmp_path / "sm-home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "token").write_text("from-stillmotion-home")
    monkeypatch.setenv("STILLMOTION_HOME", str(home))
    assert conn.discoverToken()[0] == "from-stillmotion-home"
    lr.fake.prefs.token = "typed-in-the-panel"
    assert conn.settings().token == "typed-in-the-panel"


def test_start_command_quotes_paths(lr: Lightroom) -> None:
    conn = lr.require("DaemonConnection")
    command = conn.startCommand("http://127.0.0.1:9911")
    assert command.startswith("nohup 'stillmotion' serve --port 9911 >'")
    assert command.endswith(" 2>&1 &")


@pytest.mark.parametrize("body, info, kind, says", [
    (None, {"error": {"errorCode": "cannotConnectToHost"}}, "unreachable", 'Start it with "stillmotion serve"'),
    (None, {"error": {"errorCode": "timedOut"}}, "unreachable", "did not answer in time"),
    ('{"error": {"code": "unauthorized", "message": "missing token"}}', {"status": 401}, "unauthorized",
     "refused the token"),
    ('{"error": {"code": "forbidden_path", "message": "out_dir is outside the photo\'s folder"}}', {"status": 403},
     "http", "out_dir is outside the photo's folder"),
    ("<html>oops</html>", {"status": 502}, "http", "answered HTTP 502"),
    ("<html>not json</html>", {"status": 200}, "bad_response", "not JSON"),
])
def test_api_errors_become_one_readable_line(lr: Lightroom, body, info, kind, says) -> None:
    api = lr.require("StillmotionAPI")
    client = api.new(lr.table({"url": "http://127.0.0.1:8765/"}))
    assert client.url == "http://127.0.0.1:8765"
    result, err = client._result(client, body, lr.table(info), "job status")
    assert result is None and err.kind == kind
    assert says in api.describe(err) and "\n" not in api.describe(err)


def test_api_answer_decodes_without_nulls(lr: Lightroom) -> None:
    api = lr.require("StillmotionAPI")
    client = api.new(lr.table({}))
    result, err = client._result(client, '{"id": "j1", "status": "done", "error": null, "outputs": ["/a.mp4"]}',
                                 lr.table({"status": 200}), "job status")
    assert err is None and result.error is None and list(result.outputs.values()) == ["/a.mp4"]


def submit_in_a_task(lr: Lightroom, image: Path, key: str | None) -> tuple:
    """client:submitJob inside an LrTasks task (LrHttp's rule); returns (result, err)."""
    api = lr.require("StillmotionAPI")
    client = api.new(lr.table({"url": "http://127.0.0.1:9/", "token": "t"}))
    job = lr.table({"imagePath": str(image), "originalPath": str(image), "settings": {}, "idempotencyKey": key})
    out = lr.table({})
    lr.lua.eval("""function(Fake, client, job, out)
      Fake.modules.LrTasks.startAsyncTask(function()
        out.result, out.err = client:submitJob(job)
      end)
    end""")(lr.fake, client, job, out)
    lr.run_tasks(timeout=30)
    assert lr.task_errors == []
    return out.result, out.err


@pytest.mark.parametrize("key, submit_fails_with, health_answers, posts, health_checks, says", [
    # The answer to the upload is lost and the daemon is gone by the retry: one health check, no second upload.
    ("k-1", "timedOut", False, 1, 1, 'not running at http://127.0.0.1:9. Start it with "stillmotion serve"'),
    # Lost, daemon still there: the upload goes again (same key), 3 times in all.
    ("k-1", "networkConnectionLost", True, 3, 2, "did not answer in time"),
    # Refused: nothing reached the daemon; said at once, without waiting or retrying.
    ("k-1", "cannotConnectToHost", True, 1, 0, "not running"),
    # An HTTP answer is the daemon's word: never retried.
    ("k-1", 503, True, 1, 0, "answered HTTP 503"),
    # Without a key a retry could make a second clip: not retried.
    (None, "timedOut", True, 1, 0, "did not answer in time"),
])
def test_submission_retries_only_lost_answers(lr: Lightroom, photo_folder: Path, key, submit_fails_with,
                                              health_answers, posts, health_checks, says) -> None:
    lr.require("StillmotionAPI").SUBMIT_RETRY_SECONDS = lr.table([0.05, 0.05])
    bridge = lr.bridge

    def fake_http(method, url, headers, body, parts, timeout):
        bridge.requests.append({"method": method, "url": url, "headers": dict((h[1], h[2]) for h in headers.values())})
        if url.endswith("/v1/health"):
            if health_answers:
                return lr.table({"status": 200, "body": '{"status": "ok"}', "headers": []})
            return bridge._error("cannotConnectToHost", "Could not connect to the server.")
        if isinstance(submit_fails_with, int):
            return lr.table({"status": submit_fails_with, "body": "<html>busy</html>", "headers": []})
        # The last try of a lost upload times out too.
        return bridge._error("timedOut" if submit_fails_with == "networkConnectionLost" and
                             len(lr.requests("/v1/jobs")) == 3 else submit_fails_with, "failed")

    bridge.http = fake_http
    result, err = submit_in_a_task(lr, photo_folder / "IMG_0001.jpg", key)
    assert result is None and says in lr.require("StillmotionAPI").describe(err)
    uploads = lr.requests("/v1/jobs")
    assert len(uploads) == posts
    assert {u["headers"].get("Idempotency-Key") for u in uploads} == {key}
    assert len(lr.requests("/v1/health")) == health_checks


def test_one_message_shared_by_many_photos_is_one_line_naming_a_few(lr: Lightroom) -> None:
    """A batch of 40 where a prompt could not be followed: one line, five names and a count."""
    batch = lr.require("AnimateBatch")
    errors = [{"name": f"IMG_{i:04d}.jpg", "message": "clip made; note: the prompt was not used"}
              for i in range(40)]
    errors.insert(3, {"name": "IMG_9999.jpg", "message": "the image data is damaged or truncated"})
    title, body = batch.summary(lr.table([lr.table(e) for e in errors]), 41, 41)
    assert title == "Animated 41 of 41 photos. Some need attention:"
    assert body.splitlines() == [
        "IMG_0000.jpg, IMG_0001.jpg, IMG_0002.jpg, IMG_0003.jpg, IMG_0004.jpg and 35 more: "
        "clip made; note: the prompt was not used",
        "IMG_9999.jpg: the image data is damaged or truncated"]
    two = [{"name": n, "message": "gone"} for n in ("A.jpg", "B.jpg")]
    assert batch.summary(lr.table([lr.table(e) for e in two]), 2, 0)[1] == "A.jpg, B.jpg: gone"


def test_readiness_scores_sort_as_numbers_in_the_library_filter(lr: Lightroom) -> None:
    """The field is text (the SDK has no number fields): "100" sorted before "35" and "7", so
    the Library Filter's column and a sort by the field put the best photos in the middle."""
    readiness = lr.require("Readiness")
    scores = [readiness.fieldValues(lr.table({"score": s})).score for s in (0.07, 1.0, 0.35, 0, 0.9)]
    assert scores == ["007", "100", "035", "000", "090"]
    assert sorted(scores) == sorted(scores, key=int)


@pytest.mark.parametrize("typed", ["127.0.0.1:9911", " 127.0.0.1:9911/ ", "http://127.0.0.1:9911/"])
def test_a_daemon_url_typed_without_http_is_used_as_meant(lr: Lightroom, typed: str) -> None:
    """"127.0.0.1:9911" in the panel: LrHttp refuses a URL with no scheme (reported as "not
    running"), and Start daemon started it on the default port, since no port was read."""
    conn = lr.require("DaemonConnection")
    lr.prefs_url(typed)
    assert conn.settings().url == "http://127.0.0.1:9911"
    assert conn.client().url == "http://127.0.0.1:9911"
    assert " serve --port 9911 " in conn.startCommand(conn.settings().url)


@pytest.mark.parametrize("locale", ["C", "decimal comma"])
@pytest.mark.parametrize("typed, seconds", [("2,5", 2.5), ("2.5", 2.5), ("2,5 s", 2.5), ("4", 4), ("1,5s", 1.5)])
def test_a_duration_typed_with_a_decimal_comma_is_understood(tmp_path: Path, locale: str, typed: str,
                                                             seconds: float) -> None:
    """"2,5" is how a German or French photographer writes two and a half seconds; it was refused
    as "must be empty or between 0.5 and 30 seconds", which it is. Under Lightroom's own locale
    on such a system (where Lua's tonumber reads "2,5" and refuses "2.5"), both were refused."""
    lr = Lightroom(tmp_path, decimal_comma=locale == "decimal comma")
    settings = lr.require("AnimateSettings")
    ok, value = settings.parseDuration(typed)[:2]
    assert ok and value == seconds
    props = settings.defaults()
    props.sm_duration = typed
    assert settings.problem(props) is None


def test_the_daemon_gets_numbers_with_a_decimal_point_under_a_comma_locale(tmp_path: Path, photo_folder: Path) -> None:
    """Lightroom on a German, French or Brazilian system: Lua wrote 0.35 as "0,35", so the
    develop JSON of any photo with a fractional setting was not JSON (every export failed with
    "develop is not valid JSON"), and in an array "[0,35]" is two numbers: silently wrong."""
    lr = Lightroom(tmp_path, decimal_comma=True)
    settings, JSON = lr.require("AnimateSettings"), lr.require("JSON")
    photo = lr.import_photo(photo_folder / "IMG_0001.jpg",
                            develop={"Exposure2012": 0.35, "ToneCurvePV2012": [0, 0.5, 255, 254.5]})
    props = settings.defaults()
    props.sm_duration, props.sm_fps, props.sm_motion = "2,5", 23.976, 0.15
    request = json.loads(JSON.encode(settings.request(props, photo)))
    parsed = AnimateRequest.from_dict(request)
    assert (parsed.duration, parsed.fps, parsed.motion) == (2.5, 23.976, 0.15)
    develop = json.loads(JSON.encode(settings.develop(photo)))
    assert develop["Exposure2012"] == 0.35 and develop["ToneCurvePV2012"] == [0, 0.5, 255, 254.5]
    # and what the daemon answers is read back as it was meant (progress, scores, durations)
    job = JSON.decode('{"progress": 0.25, "duration": 2.5}')
    assert (job.progress, job.duration) == (0.25, 2.5)
