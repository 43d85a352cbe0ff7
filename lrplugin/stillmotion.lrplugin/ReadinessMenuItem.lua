--[[
ReadinessMenuItem.lua: Library > Plug-in Extras > "Check video readiness".
Writes each selected photo's readiness score and advice into its Stillmotion
fields (see Readiness.lua).
]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrFunctionContext = import "LrFunctionContext"
local LrTasks = import "LrTasks"

local AnimateSettings = require "AnimateSettings"
local Readiness = require "Readiness"

LrTasks.startAsyncTask(function()
  LrFunctionContext.callWithContext("Stillmotion: check video readiness", function(context)
    LrDialogs.attachErrorDialogToFunctionContext(context)
    local photos, videos = AnimateSettings.withoutVideos(LrApplication.activeCatalog():getTargetPhotos())
    if #photos == 0 then
      LrDialogs.message("Select the photos to check first.",
                        videos > 0 and "Video readiness is a photo's: videos are not checked." or nil, "info")
      return
    end
    Readiness.run(context, photos)
  end)
end, "Stillmotion: check video readiness")
