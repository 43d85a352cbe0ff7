"""The encoder's and the finishing stage's settings ([output] crf, preset, encoder_threads, transfer;
[finish]), checked where they are made.

Apart from encode.py and finish.py, which pull in PyAV, OpenCV and NumPy: reading and checking
the config (`config.load`) uses these classes and should import none of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..config import check_choice, check_range

# [output] preset and crf: what libx264 and libx265 both accept. Not crf 0: that is lossless
# H.264, which libx264 writes in the High 4:4:4 Predictive profile, and QuickTime, Safari,
# iPhones and most browsers refuse to play it (crf 1 is still High profile).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow", "placebo")
CRF_RANGE = (1, 51)
# [output] encoder_threads: x264's frames depend on its thread count, and left to itself it takes
# 1.5 a core, so one photo, settings and seed decoded to other pixels on a machine with more cores.
# A fixed count gives the same frames everywhere (x265's do not depend on it).
ENCODER_THREADS = 8
ENCODER_THREADS_RANGE = (0, 64)
# [output] transfer: the transfer characteristics an MP4's stream (H.264/HEVC VUI) and `colr` atom
# are tagged with (ISO/IEC 23091-2 code points); primaries and matrix are BT.709 either way. The
# frames' values are the photo's own sRGB-encoded ones (only the BT.709 matrix is applied), so
# "srgb" (13, IEC 61966-2-1) says what they are: Apple's players (QuickTime, Safari, Photos, iOS)
# then show the clip as the photo, where "bt709" (1) has them decode it with the camera curve,
# about gamma 1.96, and it looks lighter and flatter than the photo. Chrome shows both as sRGB,
# Firefox and VLC ignore the tag. "bt709" is for pipelines that require 1-1-1. ProRes (MOV) is
# always tagged BT.709: editors take a master as Rec.709, and whether Apple's ProRes decoders
# accept sRGB's code in the frame header (SMPTE RDD 36 lists SDR as BT.709) is not checked.
TRANSFERS = {"srgb": 13, "bt709": 1}


@dataclass(frozen=True)
class EncodeSettings:
    fmt: str = "mp4"
    codec: str = "h264"        # mp4 only: h264 | hevc
    crf: int = 18
    preset: str = "medium"
    threads: int = ENCODER_THREADS   # 0: let the codec decide (by this machine's cores)
    # What `stillmotion match` keeps of a master (config has no say): 10-bit MP4 (H.264 High 10,
    # HEVC Main 10) from a 10-bit clip; ProRes 4444 (4:4:4, with its alpha plane when `alpha`)
    # from a ProRes 4444 one. Otherwise 8-bit 4:2:0 MP4 and ProRes 422 HQ.
    ten_bit: bool = False
    prores_4444: bool = False
    alpha: bool = False
    transfer: str = "srgb"     # mp4 only: the transfer characteristics tagged (TRANSFERS)

    def __post_init__(self) -> None:
        check_range("output", "crf", self.crf, *CRF_RANGE)
        check_range("output", "encoder_threads", self.threads, *ENCODER_THREADS_RANGE)
        check_choice("output", "preset", self.preset, PRESETS)
        check_choice("output", "transfer", self.transfer, tuple(TRANSFERS))
        if self.alpha and not self.prores_4444:
            raise ValueError("an alpha plane is kept in ProRes 4444 only")

    @property
    def codec_name(self) -> str:
        """The codec as a clip's record names it: h264, hevc, prores_422hq or prores_4444."""
        if self.fmt == "mov":
            return "prores_4444" if self.prores_4444 else "prores_422hq"
        return self.codec

    @property
    def transfer_code(self) -> int:
        """The ISO/IEC 23091-2 transfer characteristics written: 13 (sRGB) or 1 (BT.709)."""
        return TRANSFERS[self.transfer]

    @classmethod
    def from_config(cls, fmt: str, codec: str, output_cfg: dict) -> "EncodeSettings":
        return cls(fmt=fmt, codec=codec, crf=int(output_cfg.get("crf", 18)),
                   preset=str(output_cfg.get("preset", "medium")),
                   threads=int(output_cfg.get("encoder_threads", ENCODER_THREADS)),
                   transfer=str(output_cfg.get("transfer", "srgb")))


INTERPOLATION_MODES = ("motion", "blend")
FLOW_PRESETS = ("fast", "medium")


@dataclass(frozen=True)
class FinishSettings:
    detail: float = 1.0                 # photo detail strength, 0 = plain Lanczos
    interpolation: str = "motion"       # motion | blend
    upscale_flow_edge: int = 512        # long edge of the grid flow is measured on, upscaling
    interpolate_flow_edge: int = 384    # same, frame-rate conversion
    flow_preset: str = "fast"           # DIS preset: fast | medium
    min_flow_trust: float = 0.35        # below this mean trust a frame pair is cross-faded
    threads: int = 2                    # worker threads (frames are rendered a few ahead)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> "FinishSettings":
        """From the config's [finish] table (missing keys keep their defaults)."""
        known = {k: section[k] for k in cls.__dataclass_fields__ if k in section}
        settings = cls(**known)
        settings.validate()
        return settings

    def validate(self) -> None:
        check_range("finish", "detail", self.detail, 0.0, 2.0)
        check_choice("finish", "interpolation", self.interpolation, INTERPOLATION_MODES)
        check_choice("finish", "flow_preset", self.flow_preset, FLOW_PRESETS)
        for name in ("upscale_flow_edge", "interpolate_flow_edge"):
            check_range("finish", name, getattr(self, name), 64, 4096)
        check_range("finish", "threads", self.threads, 1, 64)
        check_range("finish", "min_flow_trust", self.min_flow_trust, 0.0, 1.0)
