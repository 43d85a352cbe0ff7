--[[
AnimateSettings.lua: the Animate export settings (preset fields), and how one
photo plus those settings become the daemon's request:
  * `settings` JSON: the AnimateRequest fields (server/stillmotion/request.py);
  * `develop` JSON: the photo's develop settings plus "stillmotionPrompt", the
    per-photo prompt field as typed.
Pure functions apart from reading the photo, so tests can check them directly.
]]

local Fields = require "MetadataFields"
local JSON = require "JSON"

local AnimateSettings = {}

-- Choices offered in the dialog. Values match AnimateRequest's vocabulary.
AnimateSettings.ENGINES = { "auto", "parallax", "svd", "ltx", "wan", "cogvideox" }
AnimateSettings.PROFILES = { "auto", "portrait", "action", "environmental", "still-life" }
AnimateSettings.CAMERAS = { "none", "push-in", "pull-out", "pan-left", "pan-right", "orbit", "rise" }
AnimateSettings.MAX_PROMPT = 2000   -- characters: the daemon's limit
-- Clip formats Lightroom Classic imports as video; GIF and WebP clips stay beside the photo.
AnimateSettings.IMPORTED_FORMATS = { mp4 = true, mov = true }
AnimateSettings.FORMATS = { "mp4", "mov", "gif", "webp" }
AnimateSettings.WEB_MAX_FPS = 50   -- frames per second a GIF or WebP clip can play (request.py's WEB_MAX_FPS)
local WEB_FORMATS = { gif = true, webp = true }
AnimateSettings.FROM_PROFILE = "profile"   -- popup value: leave the field to the profile/daemon

--- The export preset fields (exportPresetFields): key and default.
AnimateSettings.presetFields = {
  { key = "sm_engine", default = "auto" },
  { key = "sm_model", default = "" },            -- "" = the engine's default model
  { key = "sm_profile", default = "auto" },
  { key = "sm_promptTemplate", default = "{prompt}" },
  { key = "sm_motion", default = "profile" },    -- "profile" or 0..1
  { key = "sm_duration", default = "" },         -- "" = the profile's, else seconds
  { key = "sm_camera", default = "profile" },    -- "profile" or a camera move
  { key = "sm_fps", default = "profile" },       -- "profile" (daemon default) or frames per second
  { key = "sm_variants", default = 1 },
  { key = "sm_loop", default = false },
  { key = "sm_format", default = "mp4" },
  { key = "sm_colourMatch", default = true },
  { key = "sm_importToCatalog", default = true },
  { key = "sm_removeClips", default = false },   -- publish: trash a clip when its photo leaves / is republished
}

--- Defaults as a table { key = default }.
function AnimateSettings.defaults()
  local out = {}
  for _, f in ipairs(AnimateSettings.presetFields) do out[f.key] = f.default end
  return out
end

local function trim(s)
  return (tostring(s or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

local function contains(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

--- Expands {title}, {caption}, {keywords} and {prompt} in `template`.
-- Empty tokens leave no stray separators: "{title}. {prompt}" with no title
-- gives just the prompt. Unknown {tokens} are left as typed. The photo's own
-- words are left as written ("Wait...", "Le matin : ..."): only the separators
-- around a token that came out empty are cleared.
local EMPTY = "\1"   -- marks an empty token until its separators are cleared (the pattern below)
-- fence a token's value meanwhile: its own "-20", "..." or ":" is no separator to clear
local OPEN, CLOSE = "\2", "\3"

function AnimateSettings.expandPrompt(template, tokens)
  local text = tostring(template or ""):gsub("{(%w+)}", function(name)
    local value = tokens[name]
    if value == nil then return nil end   -- unknown token: keep it
    value = trim(value):gsub("[\1\2\3]", "")
    if value == "" then return EMPTY end
    return OPEN .. value .. CLOSE
  end)
  text = text:gsub("%s+", " ")
  -- A run of separators around empty tokens keeps its last punctuation mark and a space:
  -- "{title}, {caption}. {prompt}" with no caption gives "Dawn. mist lifts".
  text = text:gsub("[%s,.;:|/%-]*\1[%s,.;:|/%-\1]*", function(run)
    return (run:match(".*([,.;:])") or "") .. (run:find("%s") and " " or "")
  end)
  text = text:gsub("^[%s,.;:]+", ""):gsub("[%s,;:]+$", ""):gsub("[\2\3]", "")
  return text
end

--- The tokens of one photo for expandPrompt.
function AnimateSettings.photoTokens(photo)
  local keywords = photo:getFormattedMetadata("keywordTagsForExport") or ""
  return {
    title = photo:getFormattedMetadata("title") or "",
    caption = photo:getFormattedMetadata("caption") or "",
    keywords = keywords,
    prompt = Fields.get(photo, Fields.PROMPT) or "",
  }
end

--- The photos of a selection without its videos (Stillmotion animates stills; Lightroom's
-- renderer would hand the daemon a video or a frame of it), and how many videos were left out.
function AnimateSettings.withoutVideos(photos)
  local stills, videos = {}, 0
  for _, photo in ipairs(photos) do
    if photo:getRawMetadata("isVideo") then videos = videos + 1 else stills[#stills + 1] = photo end
  end
  return stills, videos
end

--- "1 video is left out." / "3 videos are left out." ("" for none).
function AnimateSettings.videosLeftOut(videos)
  if videos == 0 then return "" end
  if videos == 1 then return "1 video is left out." end
  return string.format("%d videos are left out.", videos)
end

-- Checks a duration typed in the dialog: "" (profile's) or 0.5..30 seconds, with a decimal
-- point or a decimal comma ("2,5": how much of Europe writes it).
function AnimateSettings.parseDuration(value)
  local text = trim(value)
  if text == "" then return true, nil end
  -- JSON.toNumber: plain tonumber would refuse "2.5" where Lightroom runs under a comma locale.
  local n = JSON.toNumber((text:gsub("%s*s$", ""):gsub("^(%d*),(%d+)$", "%1.%2")))
  if not n or n < 0.5 or n > 30 then
    return false, nil, "Duration must be empty (the profile's) or between 0.5 and 30 seconds."
  end
  return true, n
end

--- Validates the settings; returns nil when fine, else a one-line message
-- (the export dialog shows it and disables Export).
function AnimateSettings.problem(props)
  local ok, _, message = AnimateSettings.parseDuration(props.sm_duration)
  if not ok then return message end
  if not contains(AnimateSettings.ENGINES, props.sm_engine) then return "Choose an engine." end
  if not contains(AnimateSettings.PROFILES, props.sm_profile) then return "Choose a motion profile." end
  local variants = tonumber(props.sm_variants)
  if not variants or variants < 1 or variants > 16 or variants ~= math.floor(variants) then
    return "Variants must be a whole number from 1 to 16."
  end
  -- The daemon refuses these (browsers slow shorter frames down): say so before Lightroom
  -- renders and uploads every photo only to have each refused.
  if WEB_FORMATS[props.sm_format] and (tonumber(props.sm_fps) or 0) > AnimateSettings.WEB_MAX_FPS then
    return string.format("GIF and WebP clips play at most %d frames per second: choose a lower frame rate, or MP4 or MOV.",
                         AnimateSettings.WEB_MAX_FPS)
  end
  return nil
end

--- The AnimateRequest `settings` for one photo.
-- props: the export settings; photo: an LrPhoto (per-photo fields win).
function AnimateSettings.request(props, photo)
  local settings = {
    engine = props.sm_engine or "auto",
    profile = props.sm_profile or "auto",
    variants = tonumber(props.sm_variants) or 1,
    loop = props.sm_loop and true or false,
    colour_match = props.sm_colourMatch ~= false,
    format = props.sm_format or "mp4",
  }
  local model = trim(props.sm_model)
  if model ~= "" then settings.model = model end
  local photoProfile = Fields.get(photo, Fields.PROFILE)
  if photoProfile and contains(AnimateSettings.PROFILES, photoProfile) then settings.profile = photoProfile end

  local _, duration = AnimateSettings.parseDuration(props.sm_duration)
  settings.duration = duration
  if tonumber(props.sm_motion) then settings.motion = tonumber(props.sm_motion) end
  if contains(AnimateSettings.CAMERAS, props.sm_camera) then settings.camera = props.sm_camera end
  if tonumber(props.sm_fps) then settings.fps = tonumber(props.sm_fps) end   -- 23.976 stays 23.976

  local prompt = AnimateSettings.expandPrompt(props.sm_promptTemplate or "{prompt}",
                                              AnimateSettings.photoTokens(photo))
  if prompt ~= "" then settings.prompt = AnimateSettings.firstCharacters(prompt, AnimateSettings.MAX_PROMPT) end
  return settings
end

--- `text` (UTF-8) cut to its first `n` characters, never inside one (a cut multi-byte
-- character is not text, and the daemon refuses the whole request for it).
function AnimateSettings.firstCharacters(text, n)
  local count = 0
  for i = 1, #text do
    local b = text:byte(i)
    if b < 0x80 or b >= 0xC0 then   -- the first byte of a character
      count = count + 1
      if count > n then return text:sub(1, i - 1) end
    end
  end
  return text
end

--- The `develop` JSON for one photo: its develop settings plus the raw prompt field.
function AnimateSettings.develop(photo)
  local develop = photo:getDevelopSettings() or {}
  local copy = {}
  for k, v in pairs(develop) do copy[k] = v end
  copy.stillmotionPrompt = Fields.get(photo, Fields.PROMPT)
  return copy
end

return AnimateSettings
