"""Command line: argument parsing, and what a terminal and a script see of each command (the
`animate` batch loop and its tally, the progress bar, stdout/stderr, stop signals, exit status);
the work itself is in the modules each command calls.

Exit status: 0 ok, 1 a job failed, 2 bad input (one readable line on stderr); 130 after Ctrl-C,
128 + N after signal N (SIGTERM, SIGHUP), 141 when the reader of stdout has gone.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import glob
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence, TextIO

from . import __version__, profiles
from .errors import Canceled, ConfigError, EngineUnavailable, InputError, StillmotionError, one_line
from .logs import is_terminal
from .request import ANCHORS, ASPECTS, CAMERAS, CODECS, ENGINES, FORMATS, SIZES

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """An option error is one line, naming --help, not argparse's full usage first (15 lines
    for `animate`, with the error at the bottom). Sub-command parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


class _CommandParser(_Parser):
    """A command's parser (`animate`, `models list`, ...): an option it does not know is its own
    error, naming its own --help. Left to the top parser, `animate --bogus` named
    `stillmotion --help`, which does not list animate's options."""

    _given: list[str] = []

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._given = list(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        # A photo named `-x.jpg` (`stillmotion animate "$f"` in a loop) is read as an option:
        # "the following arguments are required: PHOTO" did not say why.
        dashed = next((a for a in self._given if a.startswith("-") and os.path.isfile(a)), None)
        if dashed is not None:
            message += f" ({dashed} is a file: name it ./{dashed}, or put -- before it)"
        super().error(message)


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def _rate(text: str) -> float:
    """Frames per second, as a number or as an editor writes a rate: 24000/1001 (23.976)."""
    try:
        number, _, per = text.partition("/")
        return float(number) / float(per) if per else float(number)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected frames per second (24, 29.97, 30000/1001), got {text!r}") from None


def _non_empty(text: str) -> str:
    """A path argument must name something: `--out "$DEST"` with DEST unset wrote into the
    working folder, `install-plugin --dest ""` copied the plug-in there, and `--config ""`
    said ".: cannot read: Is a directory"."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (is a shell variable unset?)")
    return text


def _path(text: str) -> Path:
    """A path argument, `~` expanded as the shell does not in `--out=~/Delivery` (that made a
    folder named "~" in the working folder; `match --out` and `install-plugin --dest` expanded it)."""
    return Path(_non_empty(text)).expanduser()


# cmd.exe and PowerShell hand a program its wildcards as typed (`animate *.jpg` got "*.jpg"),
# where a POSIX shell expands them first.
SHELL_EXPANDS_WILDCARDS = sys.platform != "win32"


def _expand_wildcards(named: Sequence[Path]) -> list[Path]:
    """PHOTO arguments with wildcards expanded as a POSIX shell would, where the shell has not
    (Windows): the matches, sorted; a pattern matching nothing stays, to be said as no such file."""
    if SHELL_EXPANDS_WILDCARDS:
        return list(named)
    out: list[Path] = []
    for path in named:
        matches = [] if path.exists() or not any(c in str(path) for c in "*?[") else sorted(glob.glob(str(path)))
        out.extend([Path(m) for m in matches] or [path])
    return out


PHOTO_HELP = "a JPEG, PNG, TIFF, WebP or HEIF photo (camera raw files: export the developed photo)"
CONFIG_HELP = "config file (default: config.toml in the config folder; `stillmotion doctor` shows where)"


# ---------------------------------------------------------------- animate
def _add_animate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("animate", help="turn photos into clips written beside them",
                       description="Turn each PHOTO into a short clip written beside it "
                                   "(PHOTO.motion.mp4, then .motion-2.mp4, ...; never overwriting).")
    p.add_argument("photos", nargs="+", metavar="PHOTO", type=_path, help=PHOTO_HELP)
    # Each default is named as the config key that sets it, then its value in default.toml.
    p.add_argument("--engine", choices=ENGINES, help="generation engine (default: [animate] engine, auto)")
    p.add_argument("--model", metavar="NAME|DIR",
                   help="a registry name, a Hugging Face id on disk or a local diffusers folder")
    p.add_argument("--profile", choices=profiles.CHOICES,
                   help="motion profile (default: [animate] profile, auto: the one the photo suggests)")
    p.add_argument("--prompt", metavar="TEXT",
                   help="what happens next, for engines that follow text (default: the photo's own "
                        "prompt, its caption, or the profile's)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="length, 0.5..30 (default: the profile's)")
    p.add_argument("--fps", type=_rate, metavar="N",
                   help="frames per second, 1..120, at most 50 for gif and webp (default: [animate] fps, 24); "
                        "23.976, 29.97 and 59.94 (or 24000/1001, 30000/1001, 60000/1001) are the NTSC rates")
    p.add_argument("--motion", type=_unit_interval, metavar="0..1",
                   help="motion intensity (default: the profile's, or [animate] motion if your config sets it)")
    p.add_argument("--camera", choices=CAMERAS, help="camera movement (default: the profile's)")
    p.add_argument("--style", dest="style_consistency", type=_unit_interval, metavar="0..1",
                   help="style consistency: how strongly the clip is held to the photo's colour "
                        "(default: the profile's, or [animate] style_consistency if your config sets it)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="random seed: the same seed gives the same clip (default: a random one, "
                        "recorded in the clip's XMP)")
    # Options with a default of their own leave it to AnimateRequest (None here), so that --like
    # can tell an option typed from one left out.
    p.add_argument("--variants", type=int, metavar="N",
                   help="clips per photo, 1..16: different takes, with successive seeds (default: 1)")
    p.add_argument("--anchor", choices=ANCHORS,
                   help="the photo is the first frame (start) or the last (end: what happened before; "
                        "a --loop starts on the photo) (default: start)")
    p.add_argument("--loop", action=argparse.BooleanOptionalAction,
                   help="a seamless loop: played on repeat, the last frame leads back into the first "
                        "(exactly on the parallax engine and in a clip played out and back); --no-loop: "
                        "not one (what a --like take's loop is overridden with) (default: no loop)")
    p.add_argument("--format", choices=FORMATS,
                   help="mp4 (H.264 or HEVC), mov (ProRes 422 HQ), gif, webp, tiff (16-bit frames) "
                        "(default: [animate] format, mp4)")
    p.add_argument("--codec", choices=CODECS, help="codec of mp4 clips (default: h264)")
    p.add_argument("--size", choices=SIZES,
                   help="delivery size, the short edge; source: the photo's (default: [output] long_edge, "
                        "1920, or web_long_edge, 960, for gif and webp; never larger than the photo)")
    p.add_argument("--aspect", choices=ASPECTS,
                   help="crop to a social aspect around the subject (default: source)")
    p.add_argument("--no-colour-match", dest="colour_match", action="store_false", default=None,
                   help="do not hold the clip to the photo's colour")
    p.add_argument("--colour-match", dest="colour_match", action="store_true", default=None,
                   help="hold the clip to the photo's colour (the default; overrides a --like take made "
                        "with --no-colour-match)")
    p.add_argument("--like", type=_path, metavar="CLIP",
                   help="make the take CLIP was made with again (a Stillmotion clip or its .xmp): its engine, "
                        "model, seed, profile, motion, camera, anchor, loop, duration, fps, prompt, negative "
                        "prompt, style, colour match and aspect, from its XMP; the options given here override them "
                        "(default: none)")
    p.add_argument("--xmp", type=_path, metavar="SIDECAR",
                   help="XMP sidecar to use (default: IMG.xmp or IMG.jpg.xmp beside the photo)")
    p.add_argument("--out", type=_path, metavar="DIR", help="write into DIR instead of beside each photo")
    p.add_argument("--config", type=_path, metavar="FILE", help=CONFIG_HELP)
    p.set_defaults(func=cmd_animate)


def cmd_animate(args: argparse.Namespace) -> int:
    from . import config as config_mod
    from .jobs.pipeline import JobSpec, run_job
    from .progress import JobProgress
    from .request import AnimateRequest

    cfg = config_mod.load(args.config)
    fields = {k: getattr(args, k) for k in (
        "engine", "model", "profile", "prompt", "duration", "fps", "motion", "camera",
        "style_consistency", "seed", "variants", "anchor", "loop", "format", "codec", "size",
        "aspect", "colour_match")}
    taken = None
    if args.like is not None:
        from .like import like

        taken = like(args.like, fields, cfg)
        fields = taken.fields
        for note in taken.notes:      # (once, before any work: the take will not be the same)
            _say(f"stillmotion: note: {note}")
    if fields.get("engine") is None:
        fields["engine"] = cfg["animate"]["engine"]
    if fields.get("profile") is None:
        fields["profile"] = cfg["animate"]["profile"]
    request = AnimateRequest.from_dict(fields)
    if args.out is not None:
        _check_out_is_a_folder(args.out)
    photos = _photos_of_batch(_expand_wildcards(args.photos))
    if args.xmp is not None and len(photos) > 1:
        # One photo's sidecar holds its crop, title, keywords, rating and place: on every clip
        # of the batch, they were wrong on all but one.
        raise InputError(f"--xmp {args.xmp}: a sidecar belongs to one photo, and {len(photos)} were given; "
                         "without --xmp each photo uses its own sidecar beside it (IMG.xmp or IMG.jpg.xmp)")
    status = EXIT_OK
    tally = _BatchTally(photos)
    reasons_said: set[str] = set()

    def said_engine(photo: Path, bar: ProgressBar, why: str) -> None:
        """Which engine `auto` chose and why, before it renders (once a batch: the same line
        for each of 400 photos hid the errors)."""
        if (args.engine == "auto" or (args.engine is None and taken is None)) and why not in reasons_said:
            bar.clear()
            _say(f"{photo.name}: {why}")
            reasons_said.add(why)

    full_disks: set[int | None] = set()
    pace = _BatchPace(len(photos))
    for number, photo in enumerate(photos, 1):
        pace.start(number)
        bar = ProgressBar(photo.name, position=f"{number}/{len(photos)}" if len(photos) > 1 else "",
                          batch_left=pace.time_left if len(photos) > 1 else None)
        try:
            said_before = [] if taken is None else list(taken.notes)
            other_photo = taken.photo_note(photo) if taken is not None else None
            if other_photo is not None:
                _say(f"{photo.name}: note: {other_photo}")
                said_before.append(other_photo)
            spec = JobSpec(photo_path=photo, request=request, sidecar_path=args.xmp, out_dir=args.out,
                           notes=said_before)
            if _disk_of(spec.destination) in full_disks:
                tally.failed.append(photo)       # (said once, when the disk filled)
                status = max(status, EXIT_FAILED)
                continue
            # Each variant's paths as it is placed: a later variant that fails or is stopped
            # does not keep a script from hearing of the clips already made.
            result = run_job(spec, cfg, progress=JobProgress(bar.update), placed=bar.above(_out),
                             chose=lambda why, _photo=photo, _bar=bar: said_engine(_photo, _bar, why))
        except KeyboardInterrupt:
            bar.clear()
            tally.report(stopped=True)
            raise
        except InputError as exc:
            bar.clear()
            _error(exc)
            tally.failed.append(photo)
            status = max(status, EXIT_BAD_INPUT)
            continue
        except EngineUnavailable as exc:
            # The machine, not the photo: every photo after it would fail the same way, each
            # with the same line, after decoding and analysing it for nothing.
            bar.clear()
            left = len(photos) - number
            _say(f"stillmotion: error: {one_line(exc)}" + (f" ({left} more photo(s) not tried)" if left else ""))
            return max(status, EXIT_FAILED)
        except (StillmotionError, OSError) as exc:
            bar.clear()
            _error(exc)
            tally.failed.append(photo)
            status = max(status, EXIT_FAILED)
            full = _full_disk(exc)
            if full:
                # Each photo after would render in full, then fail the same way: hours lost
                # overnight on an archive. Those whose clips go to this disk are not started.
                disk = _disk_of(spec.destination)
                full_disks.add(disk)
                left = sum(_disk_of(JobSpec(photo_path=p, request=request, out_dir=args.out).destination) == disk
                           for p in photos[number:])
                if left:
                    _say(f"stillmotion: {spec.destination.resolve()}: {full}: not starting the {left} "
                         f"photo{'s' if left > 1 else ''} left whose clips go there")
            continue
        bar.clear()
        pace.done()
        tally.animated += 1
        # What the metadata reader set aside (a broken sidecar found beside the photo, a value
        # out of range): the clip is made without it, and the photographer should know which.
        for warning in result.info.get("metadata_warnings", []):
            _say(f"{photo.name}: warning: {warning}")
        for note in result.info.get("notes", []):   # e.g. a --prompt the engine cannot follow
            if note not in said_before:
                _say(f"{photo.name}: note: {note}")
    tally.report()
    return status


def _check_out_is_a_folder(out: Path) -> None:
    """`animate --out final.mp4` (as `match --out` takes a file) made a folder named final.mp4
    with PHOTO.motion.mp4 inside it. A folder of that name that is already there is used."""
    from .video.encode import SUFFIX

    if out.suffix.lower() in {s for s in SUFFIX.values() if s} and not out.exists():
        raise InputError(f"--out {out}: animate writes into a folder, naming each clip after its photo "
                         f"(PHOTO.motion{out.suffix.lower()}); give a folder, or make {out} first if that is its name")


def _full_disk(exc: BaseException) -> str | None:
    """Why, when a write was refused because the disk is full, over quota or read-only (not
    one file too large for it: the next, smaller clip may fit); else None."""
    from .place import NO_ROOM_ERRNOS

    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(cause, OSError) and cause.errno in NO_ROOM_ERRNOS - {errno.EFBIG}:
        return cause.strerror or os.strerror(cause.errno)
    return None


def _disk_of(folder: Path) -> int | None:
    """The device of `folder`, or of the nearest folder above it that exists (an --out to be made)."""
    for candidate in (folder.absolute(), *folder.absolute().parents):
        try:
            return candidate.stat().st_dev
        except OSError:
            continue
    return None


def _photos_of_batch(named: Sequence[Path]) -> list[Path]:
    """The photos `animate` was given, each once, less the files a glob swept in that are not
    photos (`_without_non_photos`)."""
    photos: list[Path] = []
    seen: set[object] = set()
    for path in _without_non_photos(named, "animate"):
        try:
            stat = path.stat()
            key: object = (stat.st_dev, stat.st_ino)     # (the same file by another name or link too)
        except OSError:
            key = os.path.abspath(path)                   # (its error comes in its turn)
        if key in seen:
            _say(f"{path}: note: named more than once; animated once (--variants N makes N takes)")
            continue
        seen.add(key)
        photos.append(path)
    return photos


def _without_non_photos(named: Sequence[Path], verb: str) -> list[Path]:
    """`named` less the files Stillmotion itself made that a glob swept in (`animate shoot/*`
    after a first run names its clips and their .xmp; `shoot/**/*.tif` the frames of a TIFF
    sequence, which were animated as photos, a clip each, into the sequence's folder) and the
    photos' own XMP sidecars (`IMG.xmp`, darktable's `IMG.jpg.xmp`: read with their photo).
    Those are passed over in one line each, not an error each."""
    from .place import is_own_output

    own: list[Path] = []
    sidecars: list[Path] = []
    photos: list[Path] = []
    for path in named:
        (own if is_own_output(path) else sidecars if path.suffix.lower() == ".xmp" else photos).append(path)
    passed_over = [(own, "made by Stillmotion (clips, their .xmp, TIFF sequence frames), not photos"),
                   (sidecars, "XMP sidecars (each is read with its photo), not photos")]
    if not photos:
        raise InputError(f"nothing to {verb}: " + "; ".join(f"{_names(found)}: {why}" for found, why in passed_over
                                                          if found))
    for found, why in passed_over:
        if found:
            _say(f"stillmotion: passed over {_names(found)}: {why}")
    return photos


def _names(paths: Sequence[Path], shown: int = 10) -> str:
    """Paths for one line: the first `shown`, then how many more."""
    more = len(paths) - shown
    return ", ".join(str(p) for p in paths[:shown]) + (f" and {more} more" if more > 0 else "")


class _BatchTally:
    """What became of the photos of one `animate`, said in one line at its end: in a batch of
    hundreds, a failed photo's own error line has long scrolled away by then."""

    def __init__(self, photos: Sequence[Path]) -> None:
        self.total, self.animated = len(photos), 0
        self.failed: list[Path] = []

    def report(self, stopped: bool = False) -> None:
        if self.total < 2:        # (one photo: its clip's path or its error says it all)
            return
        line = f"stillmotion: {self.animated} of {self.total} photos animated"
        if stopped:
            line += " before the stop"
        if self.failed:
            line += f"; not animated: {_names(self.failed)}"
        _say(line)


class _BatchPace:
    """How long a batch's photos take, for its time left: on `3/40` the bar's ETA was the
    photo's own, 12 s left of an hour's batch. The photos to come are counted at the mean time
    of those animated so far (at first, at the current photo's own estimate)."""

    def __init__(self, total: int) -> None:
        self.total, self.number = total, 0
        self.took: list[float] = []
        self.started = time.monotonic()

    def start(self, number: int) -> None:
        self.number, self.started = number, time.monotonic()

    def done(self) -> None:
        self.took.append(time.monotonic() - self.started)

    def time_left(self, photo_eta: float | None, overall: float) -> float | None:
        """Seconds to the end of the batch, when the current photo is `overall` done with
        `photo_eta` left (None before its pace is known: then, after a first photo, at theirs)."""
        if self.took:
            per_photo = sum(self.took) / len(self.took)
            if photo_eta is None:
                photo_eta = per_photo * (1.0 - overall)
        elif photo_eta is None:
            return None
        else:
            per_photo = time.monotonic() - self.started + photo_eta
        return photo_eta + (self.total - self.number) * per_photo


def _duration_text(seconds: float) -> str:
    """At most 6 characters: 45s, 12m05s, 3h20m."""
    s = round(seconds)
    if s < 100:
        return f"{s}s"
    if s < 6000:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal. `position` ("3/40")
    says where a batch is; `batch_left(eta, overall)`, the batch's time left, is its ETA."""

    WIDTH = 79      # the line, at most: an 80-column terminal does not wrap it

    def __init__(self, label: str, stream: TextIO | None = None, position: str = "",
                 batch_left: Callable[[float | None, float], float | None] | None = None) -> None:
        self.label, self.stream = label, stream or sys.stderr
        self.position = f"{position} " if position else ""
        self.batch_left = batch_left
        self.enabled = is_terminal(self.stream)

    def update(self, stage: str, overall: float, eta: float | None) -> None:
        if not self.enabled:
            return
        # The bar gives the position its room, and a batch's longer ETA its own.
        width = max(10, 28 - len(self.position) - (7 if self.batch_left else 0))
        done = int(overall * width)
        left = self.batch_left(eta, overall) if self.batch_left else eta
        if left is None:
            eta_text = ""
        elif self.batch_left is None:
            eta_text = f" ETA {left:4.0f}s"
        else:
            eta_text = f" batch ETA {_duration_text(left)}"
        line = (f"{self.position}{self.label[:24]:24} [{'#' * done}{'-' * (width - done)}] "
                f"{overall * 100:3.0f}% {stage:8}{eta_text}")
        self.stream.write(f"\r{line[:self.WIDTH]:{self.WIDTH}}")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * self.WIDTH + "\r")
            self.stream.flush()

    def above(self, print_line: Callable[[str], None]) -> Callable[[list[Path]], None]:
        """A `placed` callback printing each path with `print_line`, on a line of its own when
        the bar shares the terminal with stdout (the bar is drawn again at the next update)."""
        def placed(paths: list[Path]) -> None:
            self.clear()
            for path in paths:
                print_line(_as_argument(path))
        return placed


def _paced(update: Callable[[str, float, float | None], None], stage: str) -> Callable[[float], None]:
    """A fraction-done callback for `update` (a ProgressBar's), with an ETA from the pace so far."""
    start = time.monotonic()

    def report(fraction: float) -> None:
        elapsed = time.monotonic() - start
        update(stage, fraction, elapsed * (1.0 - fraction) / fraction if fraction > 0.02 and elapsed > 0.2 else None)
    return report


# ---------------------------------------------------------------- other commands
def _add_simple(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the local daemon (HTTP API for the plug-in)",
                       description="Run the local daemon: the HTTP API the Lightroom plug-in and other "
                                   "apps send photos to, and the [[watch.folders]] of the config. Runs "
                                   "until stopped (Ctrl-C, or SIGTERM from a service manager); queued jobs "
                                   "wait for the next start. See docs/daemon.md.")
    p.add_argument("--host", metavar="ADDRESS", help="address to bind (default: [server] host, 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="N", help="TCP port (default: [server] port, 8765)")
    p.add_argument("--config", type=_path, metavar="FILE", help=CONFIG_HELP)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("watch", help="animate photos dropped into folders (Capture One, anything)",
                       description="Animate each photo dropped into the folders (an optional .xmp sidecar "
                                   "beside it), writing its clip beside it as animate does. Runs until "
                                   "stopped (Ctrl-C); photos dropped meanwhile are taken at the next start.")
    p.add_argument("dirs", nargs="*", metavar="DIR", type=_path,
                   help="folders to watch (default: the [[watch.folders]] in the config)")
    p.add_argument("--config", type=_path, metavar="FILE", help=CONFIG_HELP)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("analyze", help="how video-ready is each photo, and which motion profile fits",
                       description="How video-ready each photo is (resolution, focus, noise, exposure, "
                                   "lighting, what could move) and which motion profile fits it; "
                                   "nothing is written.")
    p.add_argument("photos", nargs="+", metavar="PHOTO", type=_path, help=PHOTO_HELP)
    p.add_argument("--json", action="store_true", help="print JSON (a list for several photos)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("inspect", help="print the metadata the pipeline will use for a photo",
                       description="Print the metadata a clip of PHOTO would be made from: the develop "
                                   "settings, title, caption and capture details read from its EXIF, "
                                   "embedded XMP and .xmp sidecar (and which of them were read), and "
                                   "the prompt it would get; nothing is written.")
    p.add_argument("photo", metavar="PHOTO", type=_path, help=PHOTO_HELP)
    p.add_argument("--xmp", type=_path, metavar="SIDECAR",
                   help="XMP sidecar to use (default: IMG.xmp or IMG.jpg.xmp beside the photo)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (every field, unset ones as null) instead of the settings that are set")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("match", help="colour-match any clip to its source photo",
                       description="Hold a clip made anywhere (another app, a cloud service) to its photo's "
                                   "colour, without drift or flicker, and write the result beside the clip "
                                   "(VIDEO.matched.mp4; a ProRes master stays ProRes, .matched.mov) or to --out; "
                                   "nothing is overwritten. Its sound, timecode and XMP come along.")
    p.add_argument("video", metavar="VIDEO", type=_path, help="the clip to match: any SDR video (MP4, MOV, ...)")
    p.add_argument("--to", dest="photo", required=True, metavar="PHOTO", type=_path,
                   help="the photo the clip was made from")
    # A string, not a Path: Path("newdir/") loses the separator that says "a folder".
    p.add_argument("--out", type=_non_empty, metavar="DIR|FILE", help="a folder (DIR/ is made if missing), or a new .mp4 (H.264) or .mov (ProRes) "
                                 "file (default: VIDEO.matched.mp4 beside it; .mov for a ProRes clip)")
    p.add_argument("--strength", type=_unit_interval, default=1.0, metavar="0..1",
                   help="how strongly the clip is held to the photo's colour (default: 1)")
    p.add_argument("--config", type=_path, metavar="FILE", help=CONFIG_HELP)
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("doctor", help="what this machine can do: Python, torch, device, codecs, engines, config",
                       description="What this machine can do, in one report (give it the --config serve runs "
                                   "on). Exit status: 0 ready, 2 the config is broken (as serve would refuse it), "
                                   "1 no H.264 encoder (MP4 clips cannot be made).")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--config", type=_path, metavar="FILE", help=CONFIG_HELP)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("models", help="list or download generative models",
                       description="List the registered generative models (installed or not, and whether "
                                   "each could run on this machine), or download one. The built-in "
                                   "parallax engine needs none.")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)   # for a bare `models --json`
    p.set_defaults(func=cmd_models_list)         # `stillmotion models` alone lists them
    msub = p.add_subparsers(dest="models_command")
    q = msub.add_parser("list", help="registered models: installed or not, size, usable here")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_models_list)
    q = msub.add_parser("pull", help="download a model into the model folder")
    q.add_argument("name", metavar="NAME", help="a registry name (see `stillmotion models list`) or a Hugging Face id")
    q.set_defaults(func=cmd_models_pull)

    p = sub.add_parser("install-plugin", help="copy the Lightroom Classic plug-in into Lightroom's Modules folder",
                       description="Copy the Lightroom Classic plug-in into Lightroom's Modules folder (or "
                                   "--dest), with where this Stillmotion is installed, so its Start daemon "
                                   "button can run it. Restart Lightroom afterwards.")
    p.add_argument("--dest", type=_path, metavar="DIR", help="destination folder (default: Lightroom's Modules folder)")
    p.set_defaults(func=cmd_install_plugin)


def cmd_serve(args: argparse.Namespace) -> int:
    from .api.server import serve

    return serve(config_path=args.config, host=args.host, port=args.port)


def cmd_watch(args: argparse.Namespace) -> int:
    from .watch import watch_folders

    return watch_folders(args.dirs, config_path=args.config)


def cmd_analyze(args: argparse.Namespace) -> int:
    from .readiness import analyze_path

    # One unreadable photo gets its one-line error; the others are still reported.
    reports, status = [], EXIT_OK
    photos = _without_non_photos(_expand_wildcards(args.photos), "analyze")
    for photo in photos:
        try:
            report = analyze_path(photo)
        except InputError as exc:
            _error(exc)
            status = EXIT_BAD_INPUT
            continue
        reports.append(report)
        if not args.json:
            _out(report.summary())
    if args.json and reports:
        _print_json([r.to_dict() for r in reports] if len(photos) > 1 else reports[0].to_dict())
    return status


def cmd_inspect(args: argparse.Namespace) -> int:
    from .metadata.inspect import inspect_report, render_report

    report = inspect_report(args.photo, args.xmp)
    _print_json(report) if args.json else _out(render_report(report))
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    from . import config as config_mod
    from .colour.match import match_video

    cfg = config_mod.load(args.config)
    warnings: list[str] = []
    details: dict[str, Any] = {}
    bar = ProgressBar(args.video.name)
    try:
        matched = match_video(args.video, args.photo, out=args.out, strength=args.strength, config=cfg,
                              warnings=warnings, progress=_paced(bar.update, "match"), details=details)
    finally:
        bar.clear()
    for path in matched:   # the clip, then its sidecar (as animate prints them)
        _out(_as_argument(path))
    for warning in warnings:
        _say(f"{args.video.name}: warning: {warning}")
    if details.get("colour_method") == "distribution":
        # (The closer match is made on a frame that lines up with the photo: say when none did.)
        _say(f"{args.video.name}: note: its opening frames do not line up with {args.photo.name} "
             f"(alignment {details.get('colour_alignment', 0):.2f}): matched by its colours as a whole, "
             "which holds the overall look but not every tone; is it a clip of this photo?")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import report, render

    data = report(args.config)
    _print_json(data) if args.json else _out(render(data))
    # For a health check (a service manager, CI): the whole report is shown either way, and
    # the status says whether the main job can run: 2 a config serve would refuse, 1 no H.264.
    if not data["config"]["ok"]:
        return EXIT_BAD_INPUT
    return EXIT_OK if data["codecs"].get("libx264") else EXIT_FAILED


def cmd_models_list(args: argparse.Namespace) -> int:
    from .engines.models import list_models, render_list

    models = list_models()
    _print_json(models) if args.json else _out(render_list(models))
    return EXIT_OK


def cmd_models_pull(args: argparse.Namespace) -> int:
    from .engines.models import pull, pull_command

    previous = _stop_downloads_at_once(pull_command(args.name))
    quiet = None if is_terminal(sys.stderr) else _hf_progress_bars_off()
    try:
        folder = pull(args.name)
    finally:
        for sig, handler in previous.items():
            if handler is not None:            # (None: set outside Python)
                signal.signal(sig, handler)
        if quiet is not None:
            quiet()
    _out(str(folder))
    return EXIT_OK


def _hf_progress_bars_off() -> Callable[[], None] | None:
    """huggingface_hub's bars, off (stderr piped or in a log: its file-count bar was drawn there
    anyway, carriage returns and all). Returns what turns them back on, None if nothing changed."""
    try:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    except ImportError:
        return None
    if are_progress_bars_disabled():
        return None
    disable_progress_bars()
    return enable_progress_bars


def _stop_downloads_at_once(again: str) -> dict[int, Any]:
    """huggingface_hub downloads in worker threads and, on Ctrl-C, waits for every file under
    way to finish: minutes or an hour on a slow line, with nothing said. A stop signal now ends
    the process there and then (no clean-up is lost: the model is marked installed only once
    complete, and what was fetched is kept for `again`). A signal the process was started
    ignoring stays ignored. Returns the handlers replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, _frame: object) -> None:
        said = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        if is_terminal(sys.stderr):
            _say("")                               # (below the progress bars)
        _say(f"stillmotion: {said}; the files already fetched are kept: run `{again}` to go on")
        os._exit(130 if signum == signal.SIGINT else 128 + signum)

    return {sig: signal.signal(sig, stop) for sig in _signals("SIGINT", "SIGTERM", "SIGHUP")
            if signal.getsignal(sig) is not signal.SIG_IGN}


def cmd_install_plugin(args: argparse.Namespace) -> int:
    from .install_plugin import install

    _out(str(install(args.dest)))
    return EXIT_OK


# ---------------------------------------------------------------- entry point
def _print_json(data: Any) -> None:
    _out(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class _StdoutGone(Exception):
    """Standard output cannot be written: its reader quit (`stillmotion animate *.jpg | head -1`,
    a terminal closed) or the file behind `>` is on a full disk."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


def _out(text: str) -> None:
    """Print a result on stdout, at once: a pipeline reads each clip's path as it is made."""
    try:
        print(text, flush=True)
    except OSError as exc:
        raise _StdoutGone(exc) from None


def _as_argument(path: str | os.PathLike) -> str:
    """A path as printed for the next command: `./-x.jpg` made `-x.motion.mp4` (pathlib drops
    the ./), which that command then read as an option."""
    text = os.fspath(path)
    return f".{os.sep}{text}" if text.startswith("-") else text


# Windows writes a redirected stdout (`> clips.txt`, a script's pipe) in its ANSI code page
# (cp1252: no Ł, no kanji), and the path of a clip just made was a UnicodeEncodeError traceback
# that ended the batch. A pipe or a file gets UTF-8 there (Python's own default from 3.15, PEP
# 686); a console takes any text.
UTF8_WHEN_REDIRECTED = sys.platform == "win32"


def _names_error(exc: UnicodeError) -> tuple[str | bytes, int]:
    """How stdout writes what its encoding cannot: a file name's undecodable bytes (held as
    surrogates) as those bytes, anything else as a backslash escape (see below)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    if all("\udc80" <= c <= "\udcff" for c in text):
        return bytes(ord(c) - 0xDC00 for c in text), exc.end
    return codecs.backslashreplace_errors(exc)


codecs.register_error("stillmotion-names", _names_error)


def _print_names_as_their_bytes() -> None:
    """A file name that is not UTF-8 (a Latin-1 name from an old share) is held by Python as
    escaped bytes; printing it on a UTF-8 locale whose stdout is strict (en_US.UTF-8) ended a
    finished run in a UnicodeEncodeError traceback. Written back as the same bytes, the path a
    script reads is the file's real name. A name stdout's encoding cannot write (桜.jpg on a
    Latin-1 or ASCII locale) comes out escaped (\u685c), not as a traceback after the clip was
    made. (Windows, redirected: UTF-8, see above.)"""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            utf8 = UTF8_WHEN_REDIRECTED and not is_terminal(sys.stdout)
            reconfigure(errors="stillmotion-names", **({"encoding": "utf-8"} if utf8 else {}))
        except (ValueError, OSError):   # (a stream that cannot change now: left as it is)
            pass


def _detach_stdout() -> None:
    """Point stdout at the null device: what is still buffered for a closed pipe would
    otherwise be flushed at exit, and fail again, with "Exception ignored ... BrokenPipeError"."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # (no real file behind stdout: a test's capture)
        pass
    finally:
        os.close(null)


def _say(text: str) -> None:
    """A line for the person (an error, a warning, a note) on stderr. With stderr closed
    (`2>&-`) Python's sys.stderr is None, and print(file=None) wrote into stdout, among the
    clip paths a script reads; a stderr on a full disk failed a run whose clips were made."""
    if sys.stderr is None:
        return
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        pass


def _error(exc: BaseException) -> None:
    _say(f"stillmotion: error: {one_line(exc)}")


# What a script needs to know, in the help it reads (the module docstring and the README say it too).
EPILOG = ("Results go to stdout (each file made, on a line of its own as soon as it is in place; "
          "reports; JSON with --json); progress (on a terminal only), notes and errors to stderr. "
          "Exit status: 0 done, 1 a job failed, 2 bad input; 130 after Ctrl-C, 143 after SIGTERM, "
          "141 when the reader of stdout quit.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stillmotion", description="Turn graded photos into short clips that keep their look.",
        epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"stillmotion {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser)
    _add_animate(sub)
    _add_simple(sub)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, raised like Ctrl-C so that the same clean-up runs (temporary files go)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _signals(*names: str) -> tuple[int, ...]:
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


# Ctrl-C is taken over only where its clean-up is short (a temporary removed): `models pull`
# waits for its downloads on a stop, and a second Ctrl-C must still be able to end it.
_CLEAN_STOP_ON_CTRL_C = ("animate", "match")


def _stop(signum: int, _frame: object) -> None:
    """The first stop signal stops the command; the ones after it are ignored, so that the
    clean-up it starts (the temporary file removed, the finished clips printed) is not cut
    short: Ctrl-C pressed twice printed a traceback from wherever the second one landed."""
    for sig in _signals("SIGINT", "SIGTERM", "SIGHUP"):
        if signal.getsignal(sig) is _stop:
            signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt if signum == signal.SIGINT else _Terminated(signum)


def _terminate_like_interrupt(command: str) -> dict[int, Any]:
    """A one-shot command killed by SIGTERM (a process manager, Capture One's Open With being
    quit) or SIGHUP (its terminal closed) would otherwise die at once, leaving its hidden
    temporary file behind. `serve` and `watch` have their own graceful stops. A signal the
    process was started ignoring stays ignored (`nohup stillmotion animate *.jpg &`: the batch
    goes on after the terminal closes), as Python leaves an ignored SIGINT. Ctrl-C (SIGINT)
    raises KeyboardInterrupt as Python's own handler does, but once (`animate`, `match`).
    Returns the handlers replaced, for `main` to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}                  # (main() called from a thread: signals are the caller's)
    wanted = _signals("SIGTERM", "SIGHUP") + (_signals("SIGINT") if command in _CLEAN_STOP_ON_CTRL_C else ())
    return {sig: signal.signal(sig, _stop) for sig in wanted if signal.getsignal(sig) is not signal.SIG_IGN}


# Output piped into a reader that stopped early (`stillmotion inspect IMG.jpg | head`): the
# status a C program killed by SIGPIPE gets, as `stopped by SIGTERM` gets 128 + 15.
EXIT_STDOUT_CLOSED = 128 + 13


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    _print_names_as_their_bytes()
    previous = _terminate_like_interrupt(args.command) if args.command not in ("serve", "watch") else {}
    try:
        status = func(args)
        if sys.stdout is not None:    # (None: started with stdout closed, `>&-`)
            sys.stdout.flush()         # (a reader gone shows here, not as a warning at exit)
        return status
    except BrokenPipeError:      # (a command's plain print: inspect, analyze, ... | head)
        _detach_stdout()
        return EXIT_STDOUT_CLOSED
    except (InputError, ConfigError) as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    except Canceled:
        _error(Canceled("canceled"))
        return EXIT_FAILED
    except StillmotionError as exc:
        _error(exc)
        return EXIT_FAILED
    except _StdoutGone as exc:
        # What was made stays made (the clips are in place before their paths are printed).
        _detach_stdout()
        if isinstance(exc.error, BrokenPipeError):
            return EXIT_STDOUT_CLOSED    # quietly, as any tool whose reader quit
        _say(f"stillmotion: error: cannot write to standard output: {exc}")
        return EXIT_FAILED
    except _Terminated as exc:
        _say(f"stillmotion: stopped by {signal.Signals(exc.signum).name}")
        return 128 + exc.signum
    except KeyboardInterrupt:
        _say("stillmotion: interrupted")
        return 130
    finally:
        for sig, handler in previous.items():
            # (None: set outside Python; left as ours. Ignored: a stop signal came and the
            # process is ending; one more Ctrl-C would kill it with SIGINT instead of status 130.)
            if handler is not None and signal.getsignal(sig) is _stop:
                signal.signal(sig, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
