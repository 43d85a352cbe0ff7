--[[
PluginInfoProvider.lua: the Stillmotion panel in File > Plug-in Manager.
Daemon URL, token (empty = read from the daemon's data folder on this
machine), "Test connection" and "Start daemon".
]]

local LrPrefs = import "LrPrefs"
local LrTasks = import "LrTasks"
local LrView = import "LrView"

local DaemonConnection = require "DaemonConnection"
local StillmotionAPI = require "StillmotionAPI"

local bind = LrView.bind

local PluginInfoProvider = {}

local function tokenHint()
  local token, path = DaemonConnection.discoverToken()
  if token then return "Empty: the token is read from " .. path .. "." end
  return "Empty: read from the daemon's data folder once \"stillmotion serve\" has run on this machine."
end

local function describeHealth(health, url)
  local engines = {}
  for _, e in ipairs(type(health.engines) == "table" and health.engines or {}) do
    engines[#engines + 1] = type(e) == "table" and tostring(e.name or e.id) or tostring(e)
  end
  local text = "Connected to Stillmotion " .. tostring(health.version or "") .. " at " .. url
  if health.device then text = text .. " (" .. tostring(health.device) .. ")" end
  if #engines > 0 then text = text .. ". Engines: " .. table.concat(engines, ", ") end
  return text .. "."
end

-- Saves the panel's fields so DaemonConnection (and the test) use them.
local function save(props)
  local prefs = LrPrefs.prefsForPlugin()
  prefs.daemonUrl = props.daemonUrl
  prefs.token = props.token
end

--- "Test connection": is the daemon up, and does it accept the token?
function PluginInfoProvider.testConnection(props)
  save(props)
  props.connectionStatus = "Testing..."
  LrTasks.startAsyncTask(function()
    local client = DaemonConnection.client()
    local health, err = DaemonConnection.check(client)
    props.connectionStatus = health and describeHealth(health, client.url) or StillmotionAPI.describe(err)
  end, "Stillmotion: test connection")
end

--- "Start daemon": runs "stillmotion serve" in the background and waits for it.
function PluginInfoProvider.startDaemon(props)
  save(props)
  props.connectionStatus = "Starting the daemon..."
  LrTasks.startAsyncTask(function()
    local health, message = DaemonConnection.start(30)
    if health then
      props.tokenHint = tokenHint()
      props.connectionStatus = describeHealth(health, DaemonConnection.settings().url)
    else
      props.connectionStatus = message
    end
  end, "Stillmotion: start daemon")
end

function PluginInfoProvider.startDialog(props)
  local prefs = LrPrefs.prefsForPlugin()
  props.daemonUrl = prefs.daemonUrl or StillmotionAPI.DEFAULT_URL
  props.token = prefs.token or ""
  props.tokenHint = tokenHint()
  props.connectionStatus = ""
end

function PluginInfoProvider.endDialog(props, why)
  save(props)
end

function PluginInfoProvider.sectionsForTopOfDialog(f, props)
  local labelWidth = LrView.share "sm_info_label"
  return {
    {
      title = "Stillmotion daemon",
      bind_to_object = props,
      f:row {
        f:static_text { title = "Daemon URL:", alignment = "right", width = labelWidth },
        f:edit_field { value = bind "daemonUrl", width_in_chars = 30, immediate = true },
      },
      f:row {
        f:static_text { title = "Token:", alignment = "right", width = labelWidth },
        f:password_field { value = bind "token", width_in_chars = 30 },
      },
      f:row {
        f:static_text { title = "", width = labelWidth },
        f:static_text { title = bind "tokenHint", fill_horizontal = 1 },
      },
      f:row {
        f:static_text { title = "", width = labelWidth },
        f:push_button { title = "Test connection", action = function() PluginInfoProvider.testConnection(props) end },
        f:push_button { title = "Start daemon", action = function() PluginInfoProvider.startDaemon(props) end },
      },
      f:row {
        f:static_text { title = "", width = labelWidth },
        f:static_text { title = bind "connectionStatus", fill_horizontal = 1, height_in_lines = 3 },
      },
    },
  }
end

return PluginInfoProvider
