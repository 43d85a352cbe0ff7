--[[
ExportServiceProvider.lua: the "Animate" export service (and, through
PublishSupport.lua, the publish service for collections).

Lightroom renders each photo (JPEG sRGB full size, or 16-bit TIFF: the user's
choice in File Settings); processRenderedPhotos uploads each render to the
daemon with the photo's develop settings, per-photo prompt and original path,
follows the jobs, and stacks the finished clips above their photos.
]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrErrors = import "LrErrors"
local LrFileUtils = import "LrFileUtils"

local AnimateBatch = require "AnimateBatch"
local AnimateDialog = require "AnimateDialog"
local AnimateSettings = require "AnimateSettings"
local DaemonConnection = require "DaemonConnection"
local PublishSupport = require "PublishSupport"
local StillmotionAPI = require "StillmotionAPI"

local provider = {}

-- The sections of the Export dialog that do not apply: the clip always goes
-- beside the original, under the daemon's name, at the photo's own size.
provider.hideSections = { "exportLocation", "fileNaming", "imageSettings", "outputSharpening",
                          "watermarking", "video", "postProcessing" }
provider.allowFileFormats = { "JPEG", "TIFF" }
provider.allowColorSpaces = { "sRGB" }
provider.canExportVideo = false
provider.hidePrintResolution = true

provider.exportPresetFields = AnimateSettings.presetFields

provider.startDialog = AnimateDialog.startDialog
provider.sectionsForTopOfDialog = AnimateDialog.sectionsForTopOfDialog

--- Full-size render, sRGB, 16 bits for TIFF: what the daemon should start from.
function provider.updateExportSettings(exportSettings)
  exportSettings.LR_size_doConstrain = false
  exportSettings.LR_export_colorSpace = "sRGB"
  exportSettings.LR_useWatermark = false
  exportSettings.LR_outputSharpeningOn = false
  if exportSettings.LR_format == "TIFF" then
    exportSettings.LR_export_bitDepth = 16
  else
    exportSettings.LR_format = "JPEG"
    exportSettings.LR_jpeg_quality = 1
  end
end

-- Checks the daemon before any photo is touched. One clear message when it is
-- not running (with how to start it) or refuses the token.
local function connectOrStop()
  local client = DaemonConnection.client()
  local health, err = DaemonConnection.check(client)
  if not health then LrErrors.throwUserError(StillmotionAPI.describe(err)) end
  return client
end

local function fileUrl(path)
  local url = path:gsub("\\", "/"):gsub("[^%w%-%._~/:]", function(c)
    return string.format("%%%02X", c:byte())
  end)
  if not url:find("^/") then url = "/" .. url end
  return "file://" .. url
end

-- Publishing: record the clips as the published item (id = clip paths, one a
-- line), and retire the clips of the previous publication when asked to.
local function recordPublished(props, item)
  local rendition = item.rendition
  local previous = rendition.publishedPhotoId
  rendition:recordPublishedPhotoId(table.concat(item.clips, "\n"))
  rendition:recordPublishedPhotoUrl(fileUrl(item.clips[1]))
  if previous and props.sm_removeClips then
    PublishSupport.removeClips(previous, item.clips)
  end
end

-- Publishing a photo whose job a publish cut short by the daemon's stop had sent: when that job
-- asked for what a submission now would, and the daemon has made its clip (or is making it), the
-- job is followed as if just sent (no render, no second clip); when the daemon cannot be asked
-- about it, the photo fails as sent before the daemon stopped (not sent again). Returns true
-- when the photo is dealt with.
local function followUnfinished(client, collection, batch, rendition)
  local sent = batch:requestText(rendition.photo)
  local jobId, unasked = PublishSupport.takeUnfinished(client, collection, rendition.photo, sent)
  if unasked then
    rendition:skipRender()
    batch:sentBeforeStop(rendition.photo, rendition, unasked, sent)
    return true
  end
  if not jobId then return false end
  rendition:skipRender()
  batch:follow(rendition.photo, rendition, jobId, sent)
  return true
end

function provider.processRenderedPhotos(functionContext, exportContext)
  local session = exportContext.exportSession
  local props = exportContext.propertyTable
  local publishing = exportContext.publishedCollection ~= nil
  local total = session:countRenditions()
  local progress = exportContext:configureProgress {
    title = total > 1 and string.format("Animating %d photos", total) or "Animating one photo",
  }

  local client = connectOrStop()
  local batch = AnimateBatch.new {
    client = client,
    catalog = session.catalog or LrApplication.activeCatalog(),
    props = props,
    progress = progress,
    total = total,
  }

  for _, rendition in exportContext:renditions { stopIfCanceled = true } do
    if batch.aborted then
      -- The daemon went away: a full-size render of each photo left would be thrown away.
      rendition:skipRender()
      batch:renderFailed(rendition.photo, rendition, batch.aborted)
    elseif rendition.photo:getRawMetadata("isVideo") then
      rendition:skipRender()
      batch:renderFailed(rendition.photo, rendition, AnimateBatch.IS_VIDEO)
    elseif AnimateBatch.originalMissing(rendition.photo) then
      -- Every such photo shares one line in the report (the daemon would refuse each by its path).
      rendition:skipRender()
      batch:renderFailed(rendition.photo, rendition, AnimateBatch.ORIGINAL_MISSING)
    elseif publishing and followUnfinished(client, exportContext.publishedCollection, batch, rendition) then
      batch:poll()
    else
      local ok, pathOrMessage = rendition:waitForRender()
      if progress:isCanceled() then
        if ok then LrFileUtils.delete(pathOrMessage) end   -- the render will not be uploaded
        break
      end
      if ok then
        batch:submit(rendition.photo, pathOrMessage, rendition)
      else
        batch:renderFailed(rendition.photo, rendition, pathOrMessage)
      end
      batch:poll()   -- keep the bar moving while Lightroom renders the next photo
    end
  end

  if progress:isCanceled() then
    batch:cancelAll()
  else
    batch:waitAll()
  end

  -- Clips finished before a cancel are kept: recorded as published (else the next publish
  -- would make them again) and, with any failures, reported.
  local errors = batch:errors()
  if publishing then
    for _, item in ipairs(batch:succeeded()) do recordPublished(props, item) end
    -- Lightroom lists failed renditions itself, once, at the end of the publish, and
    -- leaves those photos in "New/Modified Photos to Publish"; what is left to say is
    -- the clips made with a warning (not added to the catalog, a setting set aside).
    local warnings = {}
    for _, e in ipairs(errors) do
      if e.item.state == "failed" and e.item.error == AnimateBatch.SENT_BEFORE_STOP then
        PublishSupport.rememberUnfinished(exportContext.publishedCollection, e.item.photo, e.item.jobId, e.item.sent)
        e.item.rendition:uploadFailed(PublishSupport.SENT_BEFORE_STOP)
      elseif e.item.state == "failed" then
        e.item.rendition:uploadFailed(e.message)
      else
        warnings[#warnings + 1] = e
      end
    end
    errors = warnings
  end
  local title, body = AnimateBatch.summary(errors, total, #batch:succeeded())
  if title then LrDialogs.message(title, body, "warning") end
  progress:done()
end

-- Publish service callbacks (collections, republish, removal).
for name, value in pairs(PublishSupport.callbacks) do provider[name] = value end

return provider
