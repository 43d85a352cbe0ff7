--[[
Info.lua: what Lightroom Classic reads first. Everything the plug-in adds to
Lightroom is declared here; each role lives in its own file.
]]

return {
  LrSdkVersion = 10.0,
  LrSdkMinimumVersion = 6.0,

  LrToolkitIdentifier = "com.stillmotion.lightroom",
  LrPluginName = LOC "$$$/Stillmotion/PluginName=Stillmotion",
  LrPluginInfoUrl = "https://github.com/stillmotion/stillmotion",

  -- Export dialog destination and publish service (the same provider serves both).
  -- Right-click -> Export -> "Animate" is the built-in preset in presets/.
  LrExportServiceProvider = {
    title = LOC "$$$/Stillmotion/ServiceTitle=Animate",
    file = "ExportServiceProvider.lua",
    builtInPresetsDir = "presets",
  },

  -- Library -> Plug-in Extras.
  LrLibraryMenuItems = {
    {
      title = LOC "$$$/Stillmotion/Menu/Animate=Animate selected photos...",
      file = "AnimateMenuItem.lua",
      enabledWhen = "photosSelected",
    },
    {
      title = LOC "$$$/Stillmotion/Menu/Readiness=Check video readiness",
      file = "ReadinessMenuItem.lua",
      enabledWhen = "photosSelected",
    },
  },

  -- Per-photo prompt, motion profile, readiness score and advice, last clip.
  LrMetadataProvider = "MetadataDefinition.lua",

  -- Plug-in Manager panel: daemon URL, token, Test connection, Start daemon.
  LrPluginInfoProvider = "PluginInfoProvider.lua",

  VERSION = { major = 0, minor = 1, revision = 0, build = 1 },
}
