--[[
MetadataDefinition.lua (LrMetadataProvider): the per-photo fields Stillmotion
adds to the Metadata panel. Field ids are part of the plug-in's contract:
  prompt            what should happen in the clip (sent to the daemon as the
                    develop JSON key "stillmotionPrompt" and expanded into the
                    request's prompt through the {prompt} token)
  profile           motion profile for this photo; empty = the export's choice
  readinessScore    000-100 (three digits: the field sorts as text), written by
                    "Check video readiness"
  readinessAdvice   one line of advice, written by "Check video readiness"
  lastClip          path of the last clip made from this photo
Changing the prompt or profile marks a published photo for republish.
]]

-- Plain literals on purpose: Lightroom loads this file before the rest of the
-- plug-in, so it requires nothing. tests/lua checks the ids against MetadataFields.lua.

return {
  metadataFieldsForPhotos = {
    {
      id = "prompt",
      title = LOC "$$$/Stillmotion/Field/Prompt=Motion prompt",
      dataType = "string",
      searchable = true,
      browsable = true,
    },
    {
      id = "profile",
      title = LOC "$$$/Stillmotion/Field/Profile=Motion profile",
      dataType = "enum",
      values = {
        { value = nil, title = LOC "$$$/Stillmotion/Profile/Auto=Auto (export setting)" },
        { value = "portrait", title = LOC "$$$/Stillmotion/Profile/Portrait=Portrait: subtle, 2-3 s" },
        { value = "action", title = LOC "$$$/Stillmotion/Profile/Action=Action: completes the movement, 3-5 s" },
        { value = "environmental", title = LOC "$$$/Stillmotion/Profile/Environmental=Environmental: wind, water, clouds, 4-8 s" },
        { value = "still-life", title = LOC "$$$/Stillmotion/Profile/StillLife=Still life: almost still, 1-2 s" },
      },
      searchable = true,
      browsable = true,
    },
    {
      id = "readinessScore",
      title = LOC "$$$/Stillmotion/Field/Score=Video readiness",
      dataType = "string",
      readOnly = true,
      searchable = true,
      browsable = true,
    },
    {
      id = "readinessAdvice",
      title = LOC "$$$/Stillmotion/Field/Advice=Readiness advice",
      dataType = "string",
      readOnly = true,
      searchable = true,
    },
    {
      id = "lastClip",
      title = LOC "$$$/Stillmotion/Field/LastClip=Last clip",
      dataType = "string",
      readOnly = true,
    },
  },
  schemaVersion = 1,
}
