"""Lightroom / Camera Raw develop settings as typed values.

`None` always means "the sources did not say"; a value of 0 is a real setting.
Names follow Camera Raw's `crs:` properties (Process Version 2012+ names for the
basic tone sliders). Colour grading reads Lightroom 10+'s layout: the shadow and
highlight wheels' hue/saturation and the balance are still written as
`SplitToning*`, the rest as `ColorGrade*`; a `ColorGradeShadowHue`-style key, if
some tool writes one, fills a wheel the SplitToning keys left unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import values
from .sources import Sources, bad_value

COLOURS = ("red", "orange", "yellow", "green", "aqua", "blue", "purple", "magenta")

# Lightroom SDK orientation codes (corners of the stored image at top-left/top-right) -> EXIF.
_LR_ORIENTATION = {"AB": 1, "BA": 2, "CD": 3, "DC": 4, "AD": 5, "DA": 6, "CB": 7, "BC": 8}

Curve = list[tuple[float, float]]


@dataclass
class WhiteBalance:
    mode: str | None = None                     # crs:WhiteBalance: As Shot, Auto, Custom, Daylight...
    temperature: float | None = None            # kelvin (raw files)
    tint: float | None = None
    incremental_temperature: float | None = None  # -100..100 (rendered files: JPEG, TIFF)
    incremental_tint: float | None = None


@dataclass
class ToneCurves:
    """Point curves, 0..255 in and out. PV2012+ (`ToneCurvePV2012*`) and the legacy one."""

    master: Curve | None = None
    red: Curve | None = None
    green: Curve | None = None
    blue: Curve | None = None
    name: str | None = None                     # crs:ToneCurveName2012
    legacy: Curve | None = None                 # crs:ToneCurve (PV2003/PV2010)
    legacy_name: str | None = None              # crs:ToneCurveName ("Medium Contrast")


@dataclass
class HSL:
    """Per-colour adjustments, -100..100, keyed by the 8 colour names (only those set)."""

    hue: dict[str, float] = field(default_factory=dict)
    saturation: dict[str, float] = field(default_factory=dict)
    luminance: dict[str, float] = field(default_factory=dict)


@dataclass
class ColorGrading:
    shadow_hue: float | None = None             # SplitToningShadowHue
    shadow_saturation: float | None = None      # SplitToningShadowSaturation
    shadow_luminance: float | None = None       # ColorGradeShadowLum
    midtone_hue: float | None = None
    midtone_saturation: float | None = None
    midtone_luminance: float | None = None
    highlight_hue: float | None = None          # SplitToningHighlightHue
    highlight_saturation: float | None = None   # SplitToningHighlightSaturation
    highlight_luminance: float | None = None    # ColorGradeHighlightLum
    global_hue: float | None = None
    global_saturation: float | None = None
    global_luminance: float | None = None
    blending: float | None = None               # ColorGradeBlending (None: pre-LR10 split toning)
    balance: float | None = None                # SplitToningBalance


@dataclass
class Vignette:
    """Post-crop vignette."""

    amount: float | None = None
    midpoint: float | None = None
    feather: float | None = None
    roundness: float | None = None
    style: int | None = None                    # 1 highlight priority, 2 colour priority, 3 paint overlay
    highlight_contrast: float | None = None


@dataclass
class Grain:
    amount: float | None = None
    size: float | None = None
    frequency: float | None = None              # "roughness" in the UI


@dataclass
class Crop:
    """Normalised crop rectangle (0..1 of the uncropped, unrotated image) and angle in degrees."""

    top: float | None = None
    left: float | None = None
    bottom: float | None = None
    right: float | None = None
    angle: float | None = None
    has_crop: bool | None = None


@dataclass
class DevelopSettings:
    process_version: str | None = None
    camera_profile: str | None = None
    look_name: str | None = None                # crs:Look/crs:Name (its own settings are not read)
    white_balance: WhiteBalance = field(default_factory=WhiteBalance)
    exposure: float | None = None               # Exposure2012, stops
    contrast: float | None = None
    highlights: float | None = None
    shadows: float | None = None
    whites: float | None = None
    blacks: float | None = None
    clarity: float | None = None
    texture: float | None = None
    dehaze: float | None = None
    vibrance: float | None = None
    saturation: float | None = None
    convert_to_grayscale: bool | None = None
    legacy: dict[str, float] = field(default_factory=dict)  # PV2003/2010 sliders (Exposure, Brightness, ...)
    tone_curve: ToneCurves = field(default_factory=ToneCurves)
    hsl: HSL = field(default_factory=HSL)
    color_grading: ColorGrading = field(default_factory=ColorGrading)
    vignette: Vignette = field(default_factory=Vignette)
    grain: Grain = field(default_factory=Grain)
    crop: Crop = field(default_factory=Crop)
    already_applied: bool | None = None         # the pixels already carry these settings
    orientation: int | None = None              # EXIF 1..8


# (attribute path, crs name, parser)
_SCALARS: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("process_version", "ProcessVersion", values.text),
    ("camera_profile", "CameraProfile", values.text),
    ("white_balance.mode", "WhiteBalance", values.text),
    ("white_balance.temperature", "Temperature", values.number),
    ("white_balance.tint", "Tint", values.number),
    ("white_balance.incremental_temperature", "IncrementalTemperature", values.number),
    ("white_balance.incremental_tint", "IncrementalTint", values.number),
    ("exposure", "Exposure2012", values.number),
    ("contrast", "Contrast2012", values.number),
    ("highlights", "Highlights2012", values.number),
    ("shadows", "Shadows2012", values.number),
    ("whites", "Whites2012", values.number),
    ("blacks", "Blacks2012", values.number),
    ("clarity", "Clarity2012", values.number),
    ("texture", "Texture", values.number),
    ("dehaze", "Dehaze", values.number),
    ("vibrance", "Vibrance", values.number),
    ("saturation", "Saturation", values.number),
    ("convert_to_grayscale", "ConvertToGrayscale", values.boolean),
    ("tone_curve.master", "ToneCurvePV2012", values.curve),
    ("tone_curve.red", "ToneCurvePV2012Red", values.curve),
    ("tone_curve.green", "ToneCurvePV2012Green", values.curve),
    ("tone_curve.blue", "ToneCurvePV2012Blue", values.curve),
    ("tone_curve.name", "ToneCurveName2012", values.text),
    ("tone_curve.legacy", "ToneCurve", values.curve),
    ("tone_curve.legacy_name", "ToneCurveName", values.text),
    ("color_grading.shadow_hue", "SplitToningShadowHue", values.number),
    ("color_grading.shadow_saturation", "SplitToningShadowSaturation", values.number),
    ("color_grading.highlight_hue", "SplitToningHighlightHue", values.number),
    ("color_grading.highlight_saturation", "SplitToningHighlightSaturation", values.number),
    ("color_grading.balance", "SplitToningBalance", values.number),
    ("color_grading.blending", "ColorGradeBlending", values.number),
    ("vignette.amount", "PostCropVignetteAmount", values.number),
    ("vignette.midpoint", "PostCropVignetteMidpoint", values.number),
    ("vignette.feather", "PostCropVignetteFeather", values.number),
    ("vignette.roundness", "PostCropVignetteRoundness", values.number),
    ("vignette.style", "PostCropVignetteStyle", values.integer),
    ("vignette.highlight_contrast", "PostCropVignetteHighlightContrast", values.number),
    ("grain.amount", "GrainAmount", values.number),
    ("grain.size", "GrainSize", values.number),
    ("grain.frequency", "GrainFrequency", values.number),
    ("crop.top", "CropTop", values.number),
    ("crop.left", "CropLeft", values.number),
    ("crop.bottom", "CropBottom", values.number),
    ("crop.right", "CropRight", values.number),
    ("crop.angle", "CropAngle", values.number),
    ("crop.has_crop", "HasCrop", values.boolean),
    ("already_applied", "AlreadyApplied", values.boolean),
]

# ColorGrade wheels: (attribute prefix, crs wheel name); Lum always, Hue/Sat as fallback.
_WHEELS = [("shadow", "Shadow"), ("midtone", "Midtone"), ("highlight", "Highlight"), ("global", "Global")]
_LEGACY = ("Exposure", "Contrast", "Brightness", "Shadows", "FillLight", "HighlightRecovery", "Clarity")


def parse(sources: Sources, warnings: list[str]) -> DevelopSettings:
    settings = DevelopSettings()
    reader = _Reader(sources, warnings)
    for path, name, parser in _SCALARS:
        value = reader.get("crs:" + name, parser, _RANGES.get(path))
        if value is not None:
            _set(settings, path, value)
    for attr, wheel in _WHEELS:
        for part, suffix in (("hue", "Hue"), ("saturation", "Sat"), ("luminance", "Lum")):
            target = f"color_grading.{attr}_{part}"
            if _get(settings, target) is None:
                value = reader.get(f"crs:ColorGrade{wheel}{suffix}", values.number)
                if value is not None:
                    _set(settings, target, value)
    for colour in COLOURS:
        for kind in ("Hue", "Saturation", "Luminance"):
            value = reader.get(f"crs:{kind}Adjustment{colour.capitalize()}", values.number, (-100, 100))
            if value is not None:
                getattr(settings.hsl, kind.lower())[colour] = value
    for name in _LEGACY:
        value = reader.get("crs:" + name, values.number)
        if value is not None:
            settings.legacy[name] = value
    settings.look_name = reader.get_nested("Xmp.crs.Look/crs:Name")
    settings.orientation = _orientation(reader, sources)
    return settings


class _Reader:
    """Field lookup + parse, turning every failure into a warning that names the field."""

    def __init__(self, sources: Sources, warnings: list[str]) -> None:
        self.sources, self.warnings = sources, warnings

    def get(self, key: str, parser: Callable[[Any], Any], limits: tuple[float, float] | None = None) -> Any:
        """The parsed value of `key`, or None (with a warning naming field, value and source)
        when it does not parse or lies outside `limits`."""
        found = self.sources.get(key)
        if found is None:
            return None
        try:
            value = parser(found.value)
            if limits is not None and value is not None and not limits[0] <= value <= limits[1]:
                raise ValueError(f"outside Lightroom's range {limits[0]:g}..{limits[1]:g}")
            return value
        except ValueError as exc:
            self.warnings.append(bad_value(key, found.value, found.origin, exc))
            return None

    def get_nested(self, key: str) -> str | None:
        value = self.sources.nested.get(key)
        return value if isinstance(value, str) and value else None


def _orientation(reader: _Reader, sources: Sources) -> int | None:
    def parse_orientation(raw: Any) -> int | None:
        if isinstance(raw, str) and raw.strip().upper() in _LR_ORIENTATION:
            return _LR_ORIENTATION[raw.strip().upper()]
        value = values.integer(raw)
        if value == 0:  # written by many phones for "unknown": same as absent
            return None
        if not 1 <= value <= 8:
            raise ValueError("orientation must be 1..8")
        return value

    value = reader.get("tiff:Orientation", parse_orientation)
    if value is None and "Exif.Image.Orientation" in sources.exif:
        try:
            value = parse_orientation(sources.exif["Exif.Image.Orientation"])
        except ValueError:
            reader.warnings.append(f"EXIF Orientation = {sources.exif['Exif.Image.Orientation']!r}: "
                                   "must be 1..8; ignored")
    return value


# Documented slider ranges, by settings path: a value outside is kept out of the settings (with a
# warning naming it and its source), because a downstream look built from it would be nonsense.
_RANGES = {
    "exposure": (-10, 10), "contrast": (-100, 100), "highlights": (-100, 100), "shadows": (-100, 100),
    "whites": (-100, 100), "blacks": (-100, 100), "clarity": (-100, 100), "texture": (-100, 100),
    "dehaze": (-100, 100), "vibrance": (-100, 100), "saturation": (-100, 100),
    "white_balance.temperature": (1000, 60000), "white_balance.tint": (-200, 200),
    "white_balance.incremental_temperature": (-100, 100), "white_balance.incremental_tint": (-100, 100),
    "vignette.amount": (-100, 100), "vignette.midpoint": (0, 100), "vignette.feather": (0, 100),
    "vignette.roundness": (-100, 100), "vignette.highlight_contrast": (0, 100), "vignette.style": (1, 3),
    "grain.amount": (0, 100), "grain.size": (0, 100),
    "grain.frequency": (0, 100), "crop.top": (0, 1), "crop.left": (0, 1), "crop.bottom": (0, 1),
    "crop.right": (0, 1), "crop.angle": (-45, 45),
}


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)
