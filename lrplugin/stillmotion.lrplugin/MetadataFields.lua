--[[
MetadataFields.lua: the ids of the per-photo fields (defined in
MetadataDefinition.lua) and safe accessors for them, shared by the export,
publish and menu code.
]]

local Fields = {
  PROMPT = "prompt",
  PROFILE = "profile",
  READINESS_SCORE = "readinessScore",
  READINESS_ADVICE = "readinessAdvice",
  LAST_CLIP = "lastClip",
}

--- A field's value, or nil when it is unset or empty.
function Fields.get(photo, id)
  local value = photo:getPropertyForPlugin(_PLUGIN, id)
  if value == "" then return nil end
  return value
end

--- Fields whose change makes a published photo "Modified Photos to Re-Publish"
-- (keys in the form Lightroom expects from metadataThatTriggersRepublish).
function Fields.republishKeys()
  return {
    _PLUGIN.id .. "." .. Fields.PROMPT,
    _PLUGIN.id .. "." .. Fields.PROFILE,
  }
end

return Fields
