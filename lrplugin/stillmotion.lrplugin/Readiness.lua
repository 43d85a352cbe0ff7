--[[
Readiness.lua: "Check video readiness" for a set of photos.

Lightroom renders each photo (JPEG at full size, crop included: the
resolution measure must see the real pixel count), the daemon analyses it (POST /v1/analyze), and the score (0-100)
and advice are written into the photo's Stillmotion fields, where they can be
searched and sorted. Errors are collected and shown once at the end.
]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrExportSession = import "LrExportSession"
local LrFileUtils = import "LrFileUtils"
local LrPathUtils = import "LrPathUtils"
local LrProgressScope = import "LrProgressScope"
local LrTasks = import "LrTasks"

local AnimateBatch = require "AnimateBatch"
local DaemonConnection = require "DaemonConnection"
local Fields = require "MetadataFields"
local StillmotionAPI = require "StillmotionAPI"

local Readiness = {}

local function renderSettings(folder)
  return {
    LR_exportServiceProvider = "com.adobe.ag.export.file",
    LR_export_destinationType = "specificFolder",
    LR_export_destinationPathPrefix = folder,
    LR_export_useSubfolder = false,
    LR_collisionHandling = "rename",
    LR_format = "JPEG",
    LR_jpeg_quality = 0.9,
    LR_export_colorSpace = "sRGB",
    LR_size_doConstrain = false,
    LR_outputSharpeningOn = false,
    LR_useWatermark = false,
    LR_reimportExportedPhoto = false,
    LR_renamingTokensOn = false,
    LR_export_postProcessing = "doNothing",
  }
end

local function joinAdvice(advice)
  if type(advice) == "string" then return advice end
  if type(advice) ~= "table" then return "" end
  local parts = {}
  for _, a in ipairs(advice) do
    local text = type(a) == "table" and (a.message or a.text or a.advice) or a
    if text ~= nil and tostring(text) ~= "" then parts[#parts + 1] = tostring(text) end
  end
  return table.concat(parts, " ")
end

--- The field values for a readiness report (POST /v1/analyze's answer):
-- score "000".."100" (the report's 0..1 score; three digits because the field is text,
-- and "100" < "35" < "7" as text) and one line of advice:
-- the verdict, the advice worst first, and the suggested motion profile.
function Readiness.fieldValues(answer)
  local score = tonumber(answer.score)
  if not score then return nil, "the daemon's readiness report has no score" end
  if score <= 1 then score = score * 100 end
  score = math.floor(math.min(math.max(score, 0), 100) + 0.5)
  local parts = {}
  local verdict = answer.verdict_text
  if type(verdict) == "string" and verdict ~= "" then
    parts[#parts + 1] = verdict:sub(1, 1):upper() .. verdict:sub(2) .. "."
  end
  local advice = joinAdvice(answer.advice)
  if advice ~= "" then parts[#parts + 1] = advice end
  local profile = answer.suggested_profile
  if type(profile) == "string" and profile ~= "" then
    local duration = tonumber(answer.duration)
    parts[#parts + 1] = "Suggested profile: " .. profile
        .. (duration and string.format(" (%g s).", duration) or ".")
  end
  return { score = string.format("%03d", score), advice = table.concat(parts, " ") }
end

--- Checks `photos` and writes their fields. Returns the number written and the errors.
-- Call from a task. `progress` is an LrProgressScope (cancel stops the run).
function Readiness.check(photos, progress, tempFolder)
  local catalog = LrApplication.activeCatalog()
  local client = DaemonConnection.client()
  local health, err = DaemonConnection.check(client)
  if not health then return 0, { { name = "", message = StillmotionAPI.describe(err) } }, true end

  LrFileUtils.createAllDirectories(tempFolder)
  local session = LrExportSession { photosToExport = photos, exportSettings = renderSettings(tempFolder) }
  local written, errors = 0, {}
  local n = 0
  local stopped = false   -- the daemon went away
  for _, rendition in session:renditions() do
    if stopped or progress:isCanceled() then
      -- Skipped rather than left: Lightroom would still render each photo left, full size,
      -- into the temporary folder, where nothing deletes it.
      rendition:skipRender()
    else
      local photo = rendition.photo
      local name = AnimateBatch.photoName(photo)
      progress:setCaption("Checking " .. name)
      local ok, pathOrMessage = rendition:waitForRender()
      local values, problem
      if ok then
        local answer, apiErr = client:analyze { imagePath = pathOrMessage, originalPath = photo:getRawMetadata("path") }
        LrFileUtils.delete(pathOrMessage)
        if answer then
          values, problem = Readiness.fieldValues(answer)
        else
          problem = StillmotionAPI.describe(apiErr)
          if StillmotionAPI.isUnreachable(apiErr) then
            stopped = true   -- this photo's line says why; the photos after it are skipped
          end
        end
      else
        problem = pathOrMessage or "Lightroom could not render the photo."
      end
      if values then
        -- A catalog kept busy (an Animate export importing its clips), or anything else the
        -- write raises, is this photo's problem, not the run's.
        local wrote, err = LrTasks.pcall(AnimateBatch.writeCatalog, catalog, nil, function()
          photo:setPropertyForPlugin(_PLUGIN, Fields.READINESS_SCORE, values.score)
          photo:setPropertyForPlugin(_PLUGIN, Fields.READINESS_ADVICE, values.advice)
        end)
        if not wrote then
          values = nil
          problem = err == AnimateBatch.CATALOG_BUSY and err
                    or "could not write its fields: " .. StillmotionAPI.describe(err)
        end
      end
      if values then
        written = written + 1
      else
        errors[#errors + 1] = { name = name, message = problem }
      end
      n = n + 1
      progress:setPortionComplete(n, #photos)
    end
  end
  return written, errors
end

--- The menu item's whole run: progress, check, one report.
function Readiness.run(context, photos)
  local progress = LrProgressScope { title = "Checking video readiness", functionContext = context }
  local temp = LrPathUtils.child(LrPathUtils.getStandardFilePath("temp"), "stillmotion-readiness")
  local written, errors, daemonDown = Readiness.check(photos, progress, temp)
  progress:done()
  if daemonDown then
    LrDialogs.message("Stillmotion cannot check the photos.", errors[1].message, "critical")
  elseif #errors > 0 then
    local _, body = AnimateBatch.summary(errors, #photos, written)
    -- (A daemon that stopped mid-run is one line: the photos after it were not tried.)
    LrDialogs.message(string.format("Checked %d of %d photos.", written, #photos), body, "warning")
  end
  return written, errors
end

return Readiness
