"""Every Lua file of the plug-in (and of the fake SDK) compiles under Lua 5.1, and the
plug-in's declarations hang together: Info.lua, the preset, the metadata fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from lupa import lua51

from lrsim import PLUGIN_DIR, SDK_DIR

LUA_FILES = sorted(PLUGIN_DIR.rglob("*.lua")) + sorted(PLUGIN_DIR.rglob("*.lrtemplate")) \
    + sorted(SDK_DIR.glob("*.lua"))


def test_the_plugin_has_its_files() -> None:
    names = {p.name for p in PLUGIN_DIR.glob("*.lua")}
    assert {"Info.lua", "JSON.lua", "StillmotionAPI.lua", "ExportServiceProvider.lua",
            "PublishSupport.lua", "MetadataDefinition.lua", "PluginInfoProvider.lua",
            "AnimateMenuItem.lua", "ReadinessMenuItem.lua"} <= names


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_compiles_under_lua_5_1(path: Path) -> None:
    lua = lua51.LuaRuntime()
    assert lua.eval("_VERSION") == "Lua 5.1"
    compile_ = lua.eval("function(src, name) local f, err = loadstring(src, name) return err end")
    err = compile_(path.read_text(encoding="utf-8"), "@" + path.name)
    assert err is None, err


def test_only_the_api_client_speaks_http() -> None:
    speakers = [p.name for p in PLUGIN_DIR.glob("*.lua") if '"LrHttp"' in p.read_text() or "'LrHttp'" in p.read_text()]
    assert speakers == ["StillmotionAPI.lua"]


def test_info_declares_every_entry_point(lr) -> None:
    info = lr.info
    assert info.LrSdkVersion == 10 and info.LrSdkMinimumVersion == 6
    assert info.LrToolkitIdentifier == "com.stillmotion.lightroom"
    service = info.LrExportServiceProvider
    assert service.title == "Animate"
    assert (PLUGIN_DIR / service.file).is_file()
    assert (PLUGIN_DIR / service.builtInPresetsDir / "Animate.lrtemplate").is_file()
    items = {item.title: item.file for item in info.LrLibraryMenuItems.values()}
    assert set(items) == {"Animate selected photos...", "Check video readiness"}
    for file in items.values():
        assert (PLUGIN_DIR / file).is_file()
    assert (PLUGIN_DIR / info.LrMetadataProvider).is_file()
    assert (PLUGIN_DIR / info.LrPluginInfoProvider).is_file()


def test_plugin_files_define_no_globals(lr) -> None:
    for name in ("ExportServiceProvider", "PluginInfoProvider", "Readiness", "DaemonConnection"):
        lr.require(name)
    lr.fake.runFile("PluginInfoProvider.lua")
    assert lr.globals_defined == []


def test_metadata_fields_match_the_ids_the_code_uses(lr) -> None:
    fields = lr.require("MetadataFields")
    defined = {f.id: f for f in lr.fake.metadataDefinition.metadataFieldsForPhotos.values()}
    used = {fields.PROMPT, fields.PROFILE, fields.READINESS_SCORE, fields.READINESS_ADVICE, fields.LAST_CLIP}
    assert used == set(defined)
    assert defined["prompt"].searchable and defined["prompt"].dataType == "string"
    profile_values = {v.value for v in defined["profile"]["values"].values() if v.value is not None}
    from stillmotion import profiles
    assert profile_values == set(profiles.NAMES)
    assert defined["readinessScore"].readOnly and defined["readinessScore"].searchable


def test_builtin_preset_animate_targets_the_service_with_every_field(lr) -> None:
    preset = lr.preset()
    assert preset["preset"]["title"] == "Animate" and preset["preset"]["type"] == "Export"
    settings = preset["settings"]
    assert settings["LR_exportServiceProvider"] == lr.info.LrToolkitIdentifier
    assert settings["LR_format"] == "JPEG" and settings["LR_export_colorSpace"] == "sRGB"
    assert settings["LR_size_doConstrain"] is False
    fields = {f.key: f.default for f in lr.fake.provider().exportPresetFields.values()}
    preset_fields = {k: v for k, v in settings.items() if k.startswith("sm_")}
    assert preset_fields == fields
