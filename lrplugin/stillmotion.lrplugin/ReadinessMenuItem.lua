--[[
ReadinessMenuItem.lua: Library > Plug-in Extras > "Check video readiness".
Writes each selected photo's readiness score and advice into its Stillmotion
fields (see Readiness.lua).
]]

local LrApplication = import "LrApplication"
local LrDialogs = import "LrDialogs"
local LrFunctionContext = import "LrFunctionContext"
local LrTasks = import "LrTasks"

local Readiness = require "Readiness"

LrTasks.startAsyncTask(function()
  LrFunctionContext.callWithContext("Stillmotion: check video readiness", function(context)
    LrDialogs.attachErrorDialogToFunctionContext(context)
    local photos = LrApplication.activeCatalog():getTargetPhotos()
    if #photos == 0 then
      LrDialogs.message("Select the photos to check first.", nil, "info")
      return
    end
    Readiness.run(context, photos)
  end)
end, "Stillmotion: check video readiness")
