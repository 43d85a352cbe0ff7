"""Readiness on real photos: the suggested motion profile against genre labels, faces,
the subject box against a photographer's own region, and the motion cues."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from stillmotion import photo as photo_mod
from stillmotion import profiles
from stillmotion.readiness import ReadinessReport, analyze, analyze_pixels

from support import SHARED_FIXTURES, skimage_photo

# Genre labels, set from what each photo shows (see SOURCES.md), before any tuning.
# A second accepted profile is given only where the genre itself maps onto two of the
# four profiles, with the reason.
LABELS: list[tuple[str, set[str], str]] = [
    ("skimage:astronaut", {"portrait"}, "studio portrait"),
    ("skimage:chelsea", {"portrait"}, "pet portrait, a cat's face filling the frame"),
    ("skimage:coffee", {"still-life"}, "a cup of coffee on a table"),
    ("skimage:rocket", {"environmental"}, "launch pads at dusk, sky and lights"),
    ("skimage:motorcycle", {"still-life"}, "a parked motorcycle in a garage"),
    ("photos/kodim04.png", {"portrait"}, "head-and-shoulders portrait"),
    ("photos/kodim05.png", {"action"}, "motocross start"),
    ("photos/kodim21.png", {"environmental"}, "lighthouse, surf and clouds"),
    ("photos/IMG_1252.jpg", {"environmental"}, "Golden Gate landscape with water"),
    ("photos/kodim03.png", {"still-life"}, "caps on a wall"),
    ("photos/wp043_us_navy_lcac.png", {"action", "environmental"},
     "hovercraft throwing spray on open sea: action in an environment (SOURCES.md)"),
    ("xmp/IMG_5910.jpg", {"portrait", "environmental"},
     "wildlife: an animal portrait or the animal in its habitat"),
    ("xmp/IMG_6455.jpg", {"environmental"}, "Mono Lake landscape, stormy sky"),
    ("photos/kodim08.png", {"environmental"}, "street of house facades"),
    ("xmp/wild-1.jpg", {"environmental"}, "entrance arch over a road, pines and sky"),
    ("xmp/ladybug.jpg", {"still-life", "portrait"},
     "insect macro: a small still subject, and a living one"),
    ("xmp/digikam.jpg", {"environmental"}, "street photo of a shop front"),
]


def _skimage(name: str) -> np.ndarray:
    if name == "motorcycle":
        from skimage import data

        return data.stereo_motorcycle()[0]
    return skimage_photo(name)


@functools.lru_cache(maxsize=None)
def report_of(source: str) -> ReadinessReport:
    """The report of a labelled photo (analysed once per test session)."""
    if source.startswith("skimage:"):
        name = source.split(":", 1)[1]
        return analyze_pixels(_skimage(name).astype(np.float32) / 255.0, path=source)
    path = SHARED_FIXTURES / source
    if not path.is_file():
        pytest.skip(f"shared fixture {path} not found")
    return analyze(photo_mod.load(path))


def test_suggested_profile_matches_the_genre_for_at_least_80_percent() -> None:
    available = [(s, ok, why) for s, ok, why in LABELS
                 if s.startswith("skimage:") or (SHARED_FIXTURES / s).is_file()]
    results = [(s, ok, report_of(s).suggested_profile, why) for s, ok, why in available]
    hits = [r for r in results if r[2] in r[1]]
    table = "\n".join(f"{'ok  ' if p in ok else 'MISS'} {s:<34} {p:<13} label {'/'.join(sorted(ok))} ({why})"
                      for s, ok, p, why in results)
    assert len(hits) / len(results) >= 0.8, f"{len(hits)}/{len(results)} match:\n{table}"
    # Every profile the analysis suggests is a real one, with that profile's duration.
    for source, _, name, _ in results:
        report = report_of(source)
        assert name in profiles.NAMES
        assert report.duration == profiles.get(name).duration


@pytest.mark.parametrize("source, face_centre", [
    ("skimage:astronaut", (0.44, 0.23)),         # looked up by eye on the photo
    ("photos/kodim04.png", (0.50, 0.50)),
])
def test_faces_are_found_and_the_subject_box_keeps_them(source: str, face_centre: tuple[float, float]) -> None:
    report = report_of(source)
    assert report.faces, "no face found in a portrait"
    x0, y0, x1, y1 = report.faces[0].box
    assert x0 < face_centre[0] < x1 and y0 < face_centre[1] < y1
    sx0, sy0, sx1, sy1 = report.subject_box
    assert sx0 <= x0 and sy0 <= y0 and sx1 >= x1 and sy1 >= y1
    assert report.suggested_profile == "portrait"


@pytest.mark.parametrize("source", ["skimage:coffee", "skimage:rocket", "skimage:chelsea",
                                    "photos/kodim21.png", "photos/kodim08.png", "xmp/IMG_5910.jpg"])
def test_no_faces_where_there_are_no_people(source: str) -> None:
    assert report_of(source).faces == ()


def _downscaled(source: str, long_edge: int) -> np.ndarray:
    path = SHARED_FIXTURES / source
    if not path.is_file():
        pytest.skip(f"shared fixture {path} not found")
    pixels = photo_mod.load(path).pixels
    h, w = pixels.shape[:2]
    size = (round(w * long_edge / max(h, w)), round(h * long_edge / max(h, w)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("source, long_edge", [
    ("xmp/wild-1.jpg", 1000),       # a sandstone rock beside the arch
    ("xmp/wild-1.jpg", 720),
    ("xmp/IMG_5910.jpg", 640),      # the squirrel's chest: 'a person's face', lit like skin
])
def test_a_smaller_copy_finds_no_face_the_full_size_does_not(source: str, long_edge: int) -> None:
    report = analyze_pixels(_downscaled(source, long_edge))
    assert report.faces == ()
    assert "face" not in report.profile_reason


def test_a_real_face_is_still_found_in_a_smaller_copy() -> None:
    report = analyze_pixels(_downscaled("photos/kodim04.png", 640))
    assert report.faces and report.suggested_profile == "portrait"


def test_subject_box_covers_the_region_the_photographer_tagged(fixtures_dir: Path) -> None:
    # IMG_5910.xmp carries a Lightroom face region tagged "Alvin the Squirrel" (MWG
    # centre/size, applied to the 1394x930 JPEG).
    cx, cy, w, h = 0.57214, 0.42297, 0.21731, 0.28108
    tagged = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    box = report_of("xmp/IMG_5910.jpg").subject_box
    ix = max(0.0, min(box[2], tagged[2]) - max(box[0], tagged[0]))
    iy = max(0.0, min(box[3], tagged[3]) - max(box[1], tagged[1]))
    assert ix * iy >= 0.8 * w * h, f"subject box {box} misses the tagged squirrel {tagged}"
    assert (box[2] - box[0]) * (box[3] - box[1]) < 0.5, "the box is not just the whole frame"


def _pan(pixels: np.ndarray, keep: tuple[float, float, float, float], length: int) -> np.ndarray:
    """A panning shot: everything but `keep` smeared horizontally over `length` pixels."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    out = cv2.filter2D(pixels, -1, kernel)
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = int(keep[0] * w), int(keep[1] * h), int(keep[2] * w), int(keep[3] * h)
    out[y0:y1, x0:x1] = pixels[y0:y1, x0:x1]
    return out


@pytest.mark.parametrize("source", ["photos/kodim21.png", "photos/wp043_us_navy_lcac.png"])
def test_a_panning_shot_reads_as_action(source: str) -> None:
    still = report_of(source)
    pixels = photo_mod.load(SHARED_FIXTURES / source).pixels
    panned = analyze_pixels(_pan(pixels, still.subject_box, 25))
    motion = panned.measure("motion")
    assert "panning" in motion.reason
    assert panned.suggested_profile == "action"
    assert motion.score > still.measure("motion").score or motion.score == 1.0


def test_sports_exif_turns_the_motocross_photo_into_action(fixtures_dir: Path) -> None:
    # The Kodak scan has no EXIF; a sports camera would record a fast shutter and a long lens.
    photo = photo_mod.load(fixtures_dir / "photos" / "kodim05.png")
    report = analyze(photo, exif={"ExposureTime": "1/2000", "FocalLength": 300.0})
    motion = report.measure("motion")
    assert report.suggested_profile == "action"
    assert "1/2000 s" in motion.reason and "300 mm" in motion.reason
    # A slow shutter at a normal focal length says nothing about action.
    calm = analyze(photo, exif={"ExposureTime": 0.02, "FocalLength": 50})
    assert calm.measure("motion").details["action"] < motion.details["action"]


def test_photo_exif_is_read_from_the_file(fixtures_dir: Path) -> None:
    # IMG_5910.jpg: ISO 3200, 1/800 s, 85 mm; the noise reason quotes the ISO.
    report = report_of("xmp/IMG_5910.jpg")
    assert "ISO 3200" in report.measure("noise").reason
    assert report.measure("motion").details["exposure_time"] == pytest.approx(1 / 800)
