"""The photo's look on every frame: Lightroom grain (fresh per frame) and post-crop vignette (locked to the frame)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from stillmotion import cli, metadata
from stillmotion.colour.look import LookSettings, apply_look, remove_look
from stillmotion.photo import resize
from stillmotion.video.decode import read_frames

from support import save_photo, skimage_photo


def flat(value: float, width: int = 320, height: int = 180) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.float32)


def looked(frames, look, seed: int = 1, config=None) -> list[np.ndarray]:
    return list(apply_look(iter(frames), look, seed=seed, config=config))


def grain_of(look: LookSettings, width: int = 320, height: int = 180, n: int = 1, seed: int = 1,
             level: float = 0.5) -> list[np.ndarray]:
    return [o[..., 0] - level for o in looked([flat(level, width, height)] * n, look, seed)]


# ---------------------------------------------------------------- settings
def test_settings_from_a_real_lightroom_preset(fixtures_dir: Path, tmp_path: Path) -> None:
    photo = save_photo(tmp_path / "p.jpg", skimage_photo("coffee"), (120, 80))
    meta = metadata.read(photo, sidecar=fixtures_dir / "xmp" / "vignette_b.xmp")
    look = LookSettings.from_develop(meta.develop)
    assert (look.vignette_amount, look.vignette_midpoint, look.vignette_feather, look.vignette_roundness,
            look.vignette_style) == (-50.0, 50.0, 50.0, 0.0, 1)
    assert look.has_vignette and not look.has_grain
    assert (look.grain_size, look.grain_frequency) == (25.0, 50.0)      # Lightroom's defaults when unset


def test_settings_from_mappings_and_plain_objects() -> None:
    look = LookSettings.from_develop({"crs:GrainAmount": 40, "GrainSize": 60, "GrainFrequency": None,
                                      "PostCropVignetteAmount": -250, "PostCropVignetteStyle": 7})
    assert (look.grain_amount, look.grain_size, look.grain_frequency) == (40.0, 60.0, 50.0)
    assert look.vignette_amount == -100.0 and look.vignette_style == 1     # clamped / unknown style
    flat_attrs = SimpleNamespace(grain_amount=10, vignette_amount=20, vignette_feather=None)
    assert LookSettings.from_develop(flat_attrs) == LookSettings(grain_amount=10, vignette_amount=20)
    assert LookSettings.from_develop(None) == LookSettings()


# ---------------------------------------------------------------- grain
def test_grain_is_fresh_every_frame_and_reproducible() -> None:
    look = LookSettings(grain_amount=50)
    first, second, third = grain_of(look, n=3)
    assert abs(np.corrcoef(first.ravel(), second.ravel())[0, 1]) < 0.1     # not frozen on the lens
    assert abs(np.corrcoef(second.ravel(), third.ravel())[0, 1]) < 0.1
    again = grain_of(look, n=3)
    assert all(np.array_equal(a, b) for a, b in zip((first, second, third), again))
    other = grain_of(look, seed=2)[0]
    assert abs(np.corrcoef(first.ravel(), other.ravel())[0, 1]) < 0.1


def test_grain_sliders_amount_size_roughness_and_midtones() -> None:
    base = grain_of(LookSettings(grain_amount=25))[0]
    double = grain_of(LookSettings(grain_amount=50))[0]
    assert 1.8 < double.std() / base.std() < 2.2
    assert 0.02 < double.std() < 0.1

    def lag1(g: np.ndarray) -> float:
        return float(np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1])

    fine = grain_of(LookSettings(grain_amount=50, grain_size=0, grain_frequency=0), 1600, 60)[0]
    coarse = grain_of(LookSettings(grain_amount=50, grain_size=100, grain_frequency=0), 1600, 60)[0]
    assert lag1(coarse) > lag1(fine) + 0.2

    def coarse_share(g: np.ndarray) -> float:
        h, w = (s - s % 8 for s in g.shape)
        blocks = g[:h, :w].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))
        return float(blocks.std() / g.std())

    smooth = grain_of(LookSettings(grain_amount=50, grain_frequency=0))[0]
    rough = grain_of(LookSettings(grain_amount=50, grain_frequency=100))[0]
    assert coarse_share(rough) > 1.5 * coarse_share(smooth)
    shadows = grain_of(LookSettings(grain_amount=50), level=0.04)[0]
    assert shadows.std() < 0.6 * double.std()                             # film grain lives in the midtones
    assert np.allclose(grain_of(LookSettings(grain_amount=50), level=0.5)[0].mean(), 0.0, atol=0.005)


def test_grain_larger_than_a_few_pixels_is_taken_out_on_a_scaled_copy(monkeypatch) -> None:
    """A 45 MP photo's grain took ~37 s to take out: the edge-preserving blur ran at full size,
    its reach (the grain's size in the photo's pixels) growing with the photo. It now runs on a
    copy scaled to where the grain is ~2 px; the grain still comes out as it did at full size."""
    import cv2

    from stillmotion.colour import look as look_mod

    look = LookSettings(grain_amount=60, grain_size=100, grain_frequency=0)
    w, h = 1200, 800                  # grain of Size 100 here: 1.8 px, the blur's reach 2.7 px
    photo = flat(0.5, w, h)
    photo[:, w // 2:] = resize(skimage_photo("coffee").astype(np.float32) / 255.0, w // 2, h)
    grainy = look_mod.add_grain(photo, look, look_mod.grain_field(w, h, look, np.random.default_rng(5)))
    full_size = cv2.bilateralFilter(grainy, d=-1, sigmaColor=3 * look_mod.MAX_GRAIN_STD * 0.6,
                                    sigmaSpace=1.5 * look_mod.grain_sigma(look, w, h))   # as it was done
    blurred: list[tuple[int, ...]] = []   # the size of each picture the blur ran on
    real_bilateral = cv2.bilateralFilter

    def bilateral(src: np.ndarray, *args, **kwargs) -> np.ndarray:
        blurred.append(src.shape)
        return real_bilateral(src, *args, **kwargs)

    monkeypatch.setattr(look_mod.cv2, "bilateralFilter", bilateral)
    removed = remove_look(grainy, look)
    assert blurred and all(shape[0] < h and shape[1] < w for shape in blurred)

    patch = np.s_[100:700, 100:500]   # the flat grey half: all that varies there is grain
    assert removed[patch].std() < 0.85 * grainy[patch].std()
    assert removed[patch].std() < 1.03 * full_size[patch].std()
    half = resize(removed, w // 2, h // 2) - resize(full_size, w // 2, h // 2)
    assert 10 * np.log10(1.0 / np.mean(half.astype(np.float64) ** 2)) > 40.0   # dB


# ---------------------------------------------------------------- vignette
def test_vignette_darkens_toward_the_edges_and_is_locked_to_the_frame() -> None:
    look = LookSettings(vignette_amount=-50)
    grey, bright = looked([flat(0.6), flat(0.3)], look)
    centre, corner = grey[90, 160, 0], grey[2, 2, 0]
    assert abs(centre - 0.6) < 1e-6 and corner < 0.45
    # The same per-pixel exposure on any content: the vignette belongs to the frame, not the image.
    gain_a = (grey[..., 0] + 0.055) / 0.655
    gain_b = (bright[..., 0] + 0.055) / 0.355
    assert np.abs(gain_a - gain_b).max() < 1e-4
    stronger = looked([flat(0.6)], LookSettings(vignette_amount=-100))[0]
    assert stronger[2, 2, 0] < corner
    lighter = looked([flat(0.6)], LookSettings(vignette_amount=60))[0]
    assert lighter[2, 2, 0] > 0.7 and abs(lighter[90, 160, 0] - 0.6) < 1e-6
    paint = looked([flat(0.6)], LookSettings(vignette_amount=-60, vignette_style=3))[0]
    assert paint[2, 2, 0] < 0.6 * 0.5


def test_vignette_sliders_midpoint_roundness_feather_highlights() -> None:
    def darkening(look: LookSettings, y: int, x: int, value: float = 0.6) -> float:
        return value - looked([flat(value)], look)[0][y, x, 0]

    base = LookSettings(vignette_amount=-80)
    assert darkening(base, 90, 280) > darkening(LookSettings(vignette_amount=-80, vignette_midpoint=90), 90, 280)
    # Roundness 0 follows the frame's proportions; 100 is a circle in pixels.
    assert abs(darkening(base, 90, 160 + 120) - darkening(base, 90 + 68, 160)) < 0.01
    circle = LookSettings(vignette_amount=-80, vignette_roundness=100)
    assert abs(darkening(circle, 90, 160 + 80) - darkening(circle, 90 + 80, 160)) < 0.01
    # Feather 0 is a hard edge, 100 a long soft ramp.
    row_hard = looked([flat(0.6)], LookSettings(vignette_amount=-80, vignette_feather=0))[0][90, :, 0]
    row_soft = looked([flat(0.6)], LookSettings(vignette_amount=-80, vignette_feather=100))[0][90, :, 0]
    assert np.abs(np.diff(row_hard)).max() > 4 * np.abs(np.diff(row_soft)).max()
    # Highlights: a bright corner keeps more of its light.
    spared = LookSettings(vignette_amount=-80, vignette_highlights=100)
    assert darkening(spared, 2, 2, 0.95) < 0.5 * darkening(base, 2, 2, 0.95)


def test_removing_then_applying_gives_the_exported_photo_back() -> None:
    # An "export": a real photo with the vignette on. The job removes it before animation
    # and puts it back on the frames, so the anchor frame is the export again.
    original = resize(skimage_photo("chelsea").astype(np.float32) / 255.0, 300, 200)
    for look in (LookSettings(vignette_amount=-60, vignette_highlights=40),
                 LookSettings(vignette_amount=45, vignette_style=2),
                 LookSettings(vignette_amount=-70, vignette_style=3, vignette_roundness=-50)):
        export = looked([original], look)[0]
        removed = remove_look(export, look)
        assert np.abs(removed - original)[original < 0.9].max() < 2e-3, look
        assert np.abs(looked([removed], look)[0] - export).max() < 2e-3, look


def test_switches_and_no_look_leave_frames_alone() -> None:
    frames = [flat(0.5), flat(0.4)]
    assert all(a is b for a, b in zip(looked(frames, LookSettings()), frames))
    off = {"look": {"grain": False, "vignette": False}}
    look = LookSettings(grain_amount=80, vignette_amount=-80)
    assert all(a is b for a, b in zip(looked(frames, look, config=off), frames))
    assert remove_look(frames[0], look, off) is frames[0]
    only_vignette = looked(frames, look, config={"look": {"grain": False, "vignette": True}})
    assert only_vignette[0][90, 100, 0] == pytest.approx(0.5, abs=1e-6)   # centre: no grain, no vignette


# ---------------------------------------------------------------- in the job
_XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
 crs:GrainAmount="{grain}" crs:GrainSize="30" crs:GrainFrequency="50"
 crs:PostCropVignetteAmount="{vignette}" crs:PostCropVignetteMidpoint="40" crs:PostCropVignetteFeather="50"
 crs:PostCropVignetteRoundness="0" crs:PostCropVignetteStyle="1"/></rdf:RDF></x:xmpmeta>"""


def test_job_puts_grain_and_vignette_on_every_frame(photo_jpg: Path, fast_config: Path, tmp_path: Path) -> None:
    import cv2

    look = LookSettings(grain_amount=35, grain_size=30, vignette_amount=-60, vignette_midpoint=40)
    # A Lightroom-style export: the vignette baked into the pixels, its settings in the sidecar.
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    clean = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(photo_jpg), dtype=np.float32) / 255.0
    export = save_photo(export_dir / "IMG_1234.jpg", (looked([clean], LookSettings(vignette_amount=-60,
                        vignette_midpoint=40))[0] * 255 + 0.5).astype(np.uint8), quality=95)
    export.with_suffix(".xmp").write_text(_XMP.format(grain=35, vignette=-60), encoding="utf-8")
    args = ["--duration", "1", "--fps", "8", "--camera", "pan-left", "--motion", "1", "--seed", "3",
            "--no-colour-match"]
    assert cli.main(["animate", str(photo_jpg), *args]) == 0
    assert cli.main(["animate", str(export), *args]) == 0
    plain = list(read_frames(photo_jpg.with_name("IMG_1234.motion.mp4")))
    graded = list(read_frames(export.with_name("IMG_1234.motion.mp4")))
    assert len(plain) == len(graded) == 8

    corners = [(0, 0), (0, 288), (208, 0), (208, 288), (104, 144)]   # four corners and the centre

    def block_gain(graded_frame: np.ndarray, plain_frame: np.ndarray, y: int, x: int) -> float:
        g, p = graded_frame[y:y + 32, x:x + 32].mean(axis=2), plain_frame[y:y + 32, x:x + 32].mean(axis=2)
        lit = p > 0.15                                  # near-black pixels carry no gain information
        return float((g[lit] + 0.055).sum() / (p[lit] + 0.055).sum())

    # The vignette is on every frame exactly once: taken out of the photo before animation and
    # put back on the frame (not doubled: that would be 0.65^2 in the corners).
    gains = np.array([[block_gain(g, p, y, x) for y, x in corners] for p, g in zip(plain, graded)])
    mask_only = {"look": {"grain": False}}
    expected = looked([flat(0.5, 320, 240)], look, config=mask_only)[0]
    want = np.array([block_gain(expected, flat(0.5, 320, 240), y, x) for y, x in corners])
    assert np.abs(gains - want).max() < 0.06
    assert gains[:, :4].max() < 0.8 and gains[:, 4].min() > 0.95
    # Grain on every frame (the anchor frame too), and a fresh pattern each time.
    fine = [g.mean(axis=2) - p.mean(axis=2) for p, g in zip(plain, graded)]
    fine = [f - cv2.GaussianBlur(f, (0, 0), 3.0) for f in fine]
    level = float(np.std(fine[0][60:180, 80:240]))   # the anchor frame: no motion, only grain differs
    assert 0.015 < level < 0.04
    for i in (2, 3, 4):
        assert abs(np.corrcoef(fine[i].ravel(), fine[i + 1].ravel())[0, 1]) < 0.3


def test_a_job_holds_one_copy_of_a_photo_whose_look_it_took_out(tmp_path: Path, fast_config: Path) -> None:
    """A 45 MP photo with Lightroom grain and a vignette went through its whole render holding two
    full-size float copies of itself (its pixels, and them without the look: 520 MB more, 1.15 GB
    at 100 MP): the job kept the photo it had loaded beside the pixels it animated."""
    import tracemalloc

    from stillmotion import config as config_mod
    from stillmotion.jobs import pipeline
    from stillmotion.request import AnimateRequest

    photo = save_photo(tmp_path / "IMG_1.jpg", skimage_photo("coffee"), (1200, 800), quality=90)
    photo.with_suffix(".xmp").write_text(_XMP.format(grain=35, vignette=-60), encoding="utf-8")
    fast_config.write_text('[output]\nlong_edge = 64\npreset = "ultrafast"\n', encoding="utf-8")   # tiny frames
    held: list[int] = []   # bytes of numpy arrays alive while frames are encoded (not modules imported)

    def progress(stage: str, *_: object) -> None:
        if stage == "encode" and len(held) < 3:
            arrays = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
            held.append(sum(t.size for t in tracemalloc.take_snapshot().filter_traces([arrays]).traces))

    spec = pipeline.JobSpec(photo_path=photo, request=AnimateRequest.from_dict({"duration": 1, "fps": 8, "seed": 1}))
    tracemalloc.start()
    try:
        pipeline.run_job(spec, config_mod.load(), progress=progress)
    finally:
        tracemalloc.stop()
    photo_bytes = 1200 * 800 * 3 * 4     # one float copy
    assert held and max(held) < 1.5 * photo_bytes


def test_a_photo_sized_vignette_mask_is_not_kept_after_the_job(monkeypatch) -> None:
    """Masks were cached at any size: taking the vignette out of a 100 MP photo left a 400 MB
    mask in the daemon's long-lived render process. Frame-sized masks (one per clip, used on
    every frame) are still kept, read-only; photo-sized ones are made, used and let go."""
    from stillmotion.colour import look

    monkeypatch.setattr(look, "MASK_CACHE_PIXELS", 64 * 48)
    frame_mask = look.vignette_mask(64, 48, 50.0, 0.0, 50.0)
    assert look.vignette_mask(64, 48, 50.0, 0.0, 50.0) is frame_mask and not frame_mask.flags.writeable
    photo_mask = look.vignette_mask(65, 48, 50.0, 0.0, 50.0)
    assert look.vignette_mask(65, 48, 50.0, 0.0, 50.0) is not photo_mask
    assert np.array_equal(photo_mask[:, :64], look.vignette_mask(65, 48, 50.0, 0.0, 50.0)[:, :64])
