--[[
AnimateMenuItem.lua: Library > Plug-in Extras > "Animate selected photos...".

Asks for the animation settings (remembering the last ones), then runs an
export session through the Animate service, so the menu item and the
right-click Export > Animate preset share every step: render, upload,
progress, cancel, clips stacked above their photos, one error report.
]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrExportSession = import "LrExportSession"
local LrFunctionContext = import "LrFunctionContext"
local LrPrefs = import "LrPrefs"
local LrTasks = import "LrTasks"
local LrView = import "LrView"

local AnimateDialog = require "AnimateDialog"
local AnimateSettings = require "AnimateSettings"

local function exportSettingsFrom(props)
  local settings = {
    LR_exportServiceProvider = _PLUGIN.id,
    LR_exportServiceProviderTitle = "Animate",
    LR_format = props.sm_renderFormat == "TIFF" and "TIFF" or "JPEG",
    LR_export_colorSpace = "sRGB",
    LR_export_bitDepth = props.sm_renderFormat == "TIFF" and 16 or 8,
    LR_jpeg_quality = 1,
    LR_size_doConstrain = false,
    LR_outputSharpeningOn = false,
    LR_useWatermark = false,
    LR_collisionHandling = "rename",
  }
  for key in pairs(AnimateSettings.defaults()) do settings[key] = props[key] end
  return settings
end

LrTasks.startAsyncTask(function()
  LrFunctionContext.callWithContext("Stillmotion: animate selected photos", function(context)
    LrDialogs.attachErrorDialogToFunctionContext(context)
    local catalog = LrApplication.activeCatalog()
    local photos, videos = AnimateSettings.withoutVideos(catalog:getTargetPhotos())
    if #photos == 0 then
      LrDialogs.message("Select the photos to animate first.",
                        videos > 0 and "Stillmotion animates photos, not videos." or nil, "info")
      return
    end

    local prefs = LrPrefs.prefsForPlugin()
    local props = AnimateDialog.menuProperties(context, prefs.lastAnimateSettings)
    AnimateDialog.refreshStatus(props)
    local f = LrView.osFactory()
    local answer = LrDialogs.presentModalDialog {
      title = "Animate selected photos",
      contents = AnimateDialog.menuContents(f, props, #photos, videos),
      actionVerb = "Animate",
    }
    if answer ~= "ok" then return end
    local problem = AnimateSettings.problem(props)
    if problem then
      LrDialogs.message("Cannot animate with these settings.", problem, "warning")
      return
    end

    local remembered = { sm_renderFormat = props.sm_renderFormat }
    for key in pairs(AnimateSettings.defaults()) do remembered[key] = props[key] end
    prefs.lastAnimateSettings = remembered

    local session = LrExportSession { photosToExport = photos, exportSettings = exportSettingsFrom(props) }
    session:doExportOnCurrentTask()
  end)
end, "Stillmotion: animate selected photos")
