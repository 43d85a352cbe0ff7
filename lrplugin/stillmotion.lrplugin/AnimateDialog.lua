--[[
AnimateDialog.lua: the Animate settings UI, shared by the Export/Publish
dialog (sectionsForTopOfDialog) and the "Animate selected photos..." dialog.
Shows the daemon's status (checked in the background when the dialog opens),
the engines it can run, and every animation setting.
]]

local LrBinding = import "LrBinding"
local LrTasks = import "LrTasks"
local LrView = import "LrView"

local AnimateSettings = require "AnimateSettings"
local DaemonConnection = require "DaemonConnection"
local StillmotionAPI = require "StillmotionAPI"

local bind = LrView.bind

local AnimateDialog = {}

local ENGINE_TITLES = {
  auto = "Auto (best usable here)", parallax = "Parallax (CPU, no model)",
  svd = "Stable Video Diffusion", ltx = "LTX-Video", wan = "Wan I2V", cogvideox = "CogVideoX I2V",
}

local function items(list, titles)
  local out = {}
  for _, v in ipairs(list) do out[#out + 1] = { title = (titles and titles[v]) or v, value = v } end
  return out
end

local PROFILE_ITEMS = {
  { title = "Auto (chosen from the photo)", value = "auto" },
  { title = "Portrait: subtle, 2-3 s", value = "portrait" },
  { title = "Action: completes the movement, 3-5 s", value = "action" },
  { title = "Environmental: wind, water, clouds, 4-8 s", value = "environmental" },
  { title = "Still life: almost still, 1-2 s", value = "still-life" },
}

local MOTION_ITEMS = {
  { title = "From the profile", value = "profile" },
  { title = "Barely (0.15)", value = 0.15 },
  { title = "Subtle (0.35)", value = 0.35 },
  { title = "Moderate (0.6)", value = 0.6 },
  { title = "Strong (0.8)", value = 0.8 },
  { title = "Maximum (1.0)", value = 1.0 },
}

local FPS_ITEMS = {
  { title = "Default (24)", value = "profile" },
  { title = "8", value = 8 }, { title = "12", value = 12 }, { title = "23.976", value = 23.976 },
  { title = "24", value = 24 }, { title = "25", value = 25 }, { title = "29.97", value = 29.97 },
  { title = "30", value = 30 }, { title = "50", value = 50 }, { title = "59.94", value = 59.94 },
  { title = "60", value = 60 },
}

local function cameraItems()
  local out = { { title = "From the profile", value = "profile" } }
  for _, v in ipairs(items(AnimateSettings.CAMERAS)) do out[#out + 1] = v end
  return out
end

-- Engine popup items from GET /v1/engines; unusable engines say why.
function AnimateDialog.engineItems(answer)
  local list = type(answer) == "table" and (answer.engines or answer) or {}
  local usable = {}
  for _, e in ipairs(list) do
    if type(e) == "table" then
      local name = e.name or e.id
      if name then usable[name] = (e.usable ~= false and e.available ~= false) end
    elseif type(e) == "string" then
      usable[e] = true
    end
  end
  local out = {}
  for _, name in ipairs(AnimateSettings.ENGINES) do
    local title = ENGINE_TITLES[name] or name
    if name ~= "auto" and usable[name] == false then title = title .. " (not usable here)" end
    out[#out + 1] = { title = title, value = name }
  end
  return out
end

--- Checks the daemon in the background and writes a status line into
-- props.sm_daemonStatus (and the engine list into props.sm_engineItems).
function AnimateDialog.refreshStatus(props)
  props.sm_daemonStatus = "Checking the Stillmotion daemon..."
  LrTasks.startAsyncTask(function()
    local client = DaemonConnection.client()
    local health, err = DaemonConnection.check(client)
    if not health then
      props.sm_daemonStatus = StillmotionAPI.describe(err)
      props.sm_daemonOk = false
      return
    end
    local engines = client:engines()
    if engines then props.sm_engineItems = AnimateDialog.engineItems(engines) end
    local device = health.device and (" on " .. tostring(health.device)) or ""
    props.sm_daemonStatus = "Stillmotion " .. tostring(health.version or "") .. " is running" .. device
        .. " at " .. client.url .. "."
    props.sm_daemonOk = true
  end, "Stillmotion: daemon status")
end

-- Keeps Lightroom's Export button disabled (LR_cantExportBecause) while a
-- setting is invalid.
local function watchProblems(props)
  local function update()
    props.LR_cantExportBecause = AnimateSettings.problem(props)
  end
  for _, f in ipairs(AnimateSettings.presetFields) do props:addObserver(f.key, update) end
  update()
end

function AnimateDialog.startDialog(props)
  props.sm_engineItems = AnimateDialog.engineItems(nil)
  watchProblems(props)
  AnimateDialog.refreshStatus(props)
end

--- The daemon status row (with "Check again").
function AnimateDialog.statusRow(f, props)
  return f:row {
    f:static_text { title = bind "sm_daemonStatus", fill_horizontal = 1, width_in_chars = 50, height_in_lines = 2 },
    f:push_button { title = "Check again", action = function() AnimateDialog.refreshStatus(props) end },
  }
end

--- Every animation setting, bound to props' sm_* keys.
function AnimateDialog.settingsView(f, props)
  local labelWidth = LrView.share "sm_label_width"
  local function labelled(label, control)
    return f:row { f:static_text { title = label, alignment = "right", width = labelWidth }, control }
  end
  return f:column {
    spacing = f:control_spacing(),
    labelled("Engine:", f:popup_menu { value = bind "sm_engine", items = bind "sm_engineItems" }),
    labelled("Model:", f:edit_field { value = bind "sm_model", width_in_chars = 30,
                                      tooltip = "A registry name or a local diffusers folder; empty = the engine's default." }),
    labelled("Motion profile:", f:popup_menu { value = bind "sm_profile", items = PROFILE_ITEMS }),
    labelled("Prompt:", f:edit_field { value = bind "sm_promptTemplate", width_in_chars = 40, height_in_lines = 2 }),
    f:row {
      f:static_text { title = "", width = labelWidth },
      f:static_text { title = "Tokens: {prompt} (the photo's Motion prompt field), {title}, {caption}, {keywords}.",
                      fill_horizontal = 1 },
    },
    labelled("Motion:", f:popup_menu { value = bind "sm_motion", items = MOTION_ITEMS }),
    labelled("Duration (s):", f:edit_field { value = bind "sm_duration", width_in_chars = 6,
                                             tooltip = "Empty = the profile's length; 0.5 to 30 seconds." }),
    labelled("Camera:", f:popup_menu { value = bind "sm_camera", items = cameraItems() }),
    labelled("Frame rate:", f:popup_menu { value = bind "sm_fps", items = FPS_ITEMS }),
    labelled("Variants:", f:popup_menu { value = bind "sm_variants",
                                         items = { { title = "1", value = 1 }, { title = "2", value = 2 },
                                                   { title = "3", value = 3 }, { title = "4", value = 4 } } }),
    labelled("Format:", f:popup_menu { value = bind "sm_format", items = items(AnimateSettings.FORMATS) }),
    f:row {
      f:static_text { title = "", width = labelWidth },
      f:checkbox { title = "Match the clip's colour to the photo", value = bind "sm_colourMatch" },
    },
    f:row {
      f:static_text { title = "", width = labelWidth },
      f:checkbox { title = "Loop (plays seamlessly on repeat)", value = bind "sm_loop" },
    },
  }
end

--- The catalog options.
function AnimateDialog.catalogView(f, props, publishing)
  local rows = {
    -- Lightroom imports MP4 and MOV clips; GIF and WebP clips stay beside the photo only.
    f:checkbox { title = "Import the clip into the catalog and stack it above its photo (MP4, MOV)",
                 value = bind "sm_importToCatalog",
                 enabled = LrView.bind { key = "sm_format",
                                         transform = function(format) return AnimateSettings.IMPORTED_FORMATS[format] == true end } },
  }
  if publishing then
    -- Only for clips left out of the catalog: the SDK cannot take a photo out of it, so a
    -- trashed clip would stay there as a missing file.
    rows[#rows + 1] = f:checkbox {
      title = "Move a clip to the Trash when its photo leaves the collection or is republished "
              .. "(clips not imported only)",
      value = bind "sm_removeClips",
      enabled = LrView.bind {
        keys = { "sm_importToCatalog", "sm_format" },
        operation = function(binder, values)
          return not values.sm_importToCatalog or not AnimateSettings.IMPORTED_FORMATS[values.sm_format]
        end,
      } }
  end
  rows.spacing = f:control_spacing()
  return f:column(rows)
end

function AnimateDialog.sectionsForTopOfDialog(f, props)
  local publishing = props.LR_isExportForPublish
  return {
    {
      title = "Stillmotion daemon",
      synopsis = bind "sm_daemonStatus",
      AnimateDialog.statusRow(f, props),
    },
    {
      title = "Animation",
      synopsis = LrView.bind {
        keys = { "sm_engine", "sm_profile" },
        operation = function(binder, values)
          return tostring(values.sm_engine) .. ", " .. tostring(values.sm_profile) .. " profile"
        end,
      },
      AnimateDialog.settingsView(f, props),
    },
    {
      title = "Clips in the catalog",
      AnimateDialog.catalogView(f, props, publishing),
    },
  }
end

--- Contents of the "Animate selected photos..." dialog (adds the render format).
-- videoCount: videos in the selection, left out (Stillmotion animates photos).
function AnimateDialog.menuContents(f, props, photoCount, videoCount)
  local leftOut = AnimateSettings.videosLeftOut(videoCount or 0)
  return f:column {
    bind_to_object = props,
    spacing = f:dialog_spacing(),
    f:static_text { title = string.format("Animate %d photo%s. Clips are written beside the originals.",
                                          photoCount, photoCount == 1 and "" or "s")
                            .. (leftOut ~= "" and (" " .. leftOut) or "") },
    AnimateDialog.statusRow(f, props),
    f:group_box { title = "Animation", fill_horizontal = 1, AnimateDialog.settingsView(f, props) },
    f:group_box {
      title = "Rendering and catalog", fill_horizontal = 1,
      f:row {
        f:static_text { title = "Send Lightroom's render as:" },
        f:popup_menu { value = bind "sm_renderFormat",
                       items = { { title = "JPEG, sRGB, full size", value = "JPEG" },
                                 { title = "TIFF, 16-bit, sRGB, full size", value = "TIFF" } } },
      },
      AnimateDialog.catalogView(f, props, false),
    },
  }
end

--- A property table for the menu dialog, filled from the last used settings.
function AnimateDialog.menuProperties(context, lastUsed)
  local props = LrBinding.makePropertyTable(context)
  lastUsed = lastUsed or {}
  for key, default in pairs(AnimateSettings.defaults()) do
    local value = lastUsed[key]
    if value == nil then value = default end
    props[key] = value
  end
  props.sm_renderFormat = lastUsed.sm_renderFormat or "JPEG"
  props.sm_engineItems = AnimateDialog.engineItems(nil)
  return props
end

return AnimateDialog
