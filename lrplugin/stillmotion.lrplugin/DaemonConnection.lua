--[[
DaemonConnection.lua: where the daemon is and how to authenticate to it.

The URL and token come from the Plug-in Manager panel (LrPrefs). When the token
field is empty, the token is read from the file "token" in the daemon's data
folder, looked for in this order:
  1. $STILLMOTION_HOME/data (the daemon honours the same variable);
  2. the data folder recorded by "stillmotion install-plugin" in
     stillmotion-install.json inside the installed plug-in;
  3. the platform's default: macOS ~/Library/Application Support/stillmotion,
     Windows %LOCALAPPDATA%\stillmotion\stillmotion, else ~/.local/share/stillmotion.
"Start daemon" runs the stillmotion command recorded at install time (or the
one on PATH) in the background, with the STILLMOTION_HOME recorded at install
time when Lightroom does not see one, and waits until /v1/health answers.
]]

local LrFileUtils = import "LrFileUtils"
local LrPathUtils = import "LrPathUtils"
local LrPrefs = import "LrPrefs"
local LrTasks = import "LrTasks"

local JSON = require "JSON"
local StillmotionAPI = require "StillmotionAPI"

local DaemonConnection = {}

DaemonConnection.INSTALL_RECORD = "stillmotion-install.json"

local function trim(s)
  return (tostring(s or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end

local function nonEmpty(s)
  s = trim(s)
  if s == "" then return nil end
  return s
end

--- What install-plugin recorded about this machine's daemon (a table, maybe empty).
function DaemonConnection.installRecord()
  local path = LrPathUtils.child(_PLUGIN.path, DaemonConnection.INSTALL_RECORD)
  if LrFileUtils.exists(path) ~= "file" then return {} end
  local ok, record = pcall(JSON.decode, LrFileUtils.readFile(path) or "", { dropNulls = true })
  if ok and type(record) == "table" then return record end
  return {}
end

--- The data folders where the daemon may keep its token, most specific first.
function DaemonConnection.dataDirCandidates()
  local dirs = {}
  local home = nonEmpty(os.getenv("STILLMOTION_HOME"))
  if home then dirs[#dirs + 1] = LrPathUtils.child(home, "data") end
  local recorded = nonEmpty(DaemonConnection.installRecord().data_dir)
  if recorded then dirs[#dirs + 1] = recorded end
  if WIN_ENV then
    local localAppData = nonEmpty(os.getenv("LOCALAPPDATA"))
    if localAppData then
      dirs[#dirs + 1] = LrPathUtils.child(LrPathUtils.child(localAppData, "stillmotion"), "stillmotion")
    end
  else
    local userHome = LrPathUtils.getStandardFilePath("home")
    if MAC_ENV then
      dirs[#dirs + 1] = LrPathUtils.child(LrPathUtils.child(LrPathUtils.child(userHome, "Library"),
                                                            "Application Support"), "stillmotion")
    end
    local xdg = nonEmpty(os.getenv("XDG_DATA_HOME"))
    dirs[#dirs + 1] = LrPathUtils.child(xdg or LrPathUtils.child(LrPathUtils.child(userHome, ".local"), "share"),
                                        "stillmotion")
  end
  return dirs
end

--- The token from the daemon's data folder, and the file it came from (or nil).
function DaemonConnection.discoverToken()
  for _, dir in ipairs(DaemonConnection.dataDirCandidates()) do
    local path = LrPathUtils.child(dir, "token")
    if LrFileUtils.exists(path) == "file" then
      local token = nonEmpty(LrFileUtils.readFile(path))
      if token then return token, path end
    end
  end
  return nil
end

--- { url, token, tokenSource } from the panel's settings, falling back to discovery.
function DaemonConnection.settings()
  local prefs = LrPrefs.prefsForPlugin()
  local url = StillmotionAPI.normalizeUrl(prefs.daemonUrl)
  local token = nonEmpty(prefs.token)
  if token then return { url = url, token = token, tokenSource = "Plug-in Manager" } end
  local found, path = DaemonConnection.discoverToken()
  return { url = url, token = found, tokenSource = path }
end

--- A StillmotionAPI client for the configured daemon.
function DaemonConnection.client()
  local s = DaemonConnection.settings()
  return StillmotionAPI.new { url = s.url, token = s.token }
end

--- Checks that the daemon runs and accepts our token. Returns health info or nil, err.
function DaemonConnection.check(client)
  client = client or DaemonConnection.client()
  local health, err = client:health()
  if not health then return nil, err end
  local _, authErr = client:listJobs()
  if authErr then return nil, authErr end
  return health
end

-- The port in a URL like http://127.0.0.1:8765 (nil when none is given).
local function urlPort(url)
  return tonumber(url:match("^%a+://[^/:]+:(%d+)"))
end

local function shellQuote(s)
  if WIN_ENV then return '"' .. s:gsub('"', '""') .. '"' end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- The shell command that starts the daemon in the background for `url`.
function DaemonConnection.startCommand(url)
  local record = DaemonConnection.installRecord()
  local exe = nonEmpty(record.stillmotion) or "stillmotion"
  local args = shellQuote(exe) .. " serve"
  local port = urlPort(url or StillmotionAPI.DEFAULT_URL)
  if port then args = args .. " --port " .. port end
  -- Lightroom started from the Dock or the Start menu does not see the shell's STILLMOTION_HOME:
  -- without it the daemon would make another token (and read another config) in the platform's
  -- folders, while the token is read from the recorded home's.
  local home = not nonEmpty(os.getenv("STILLMOTION_HOME")) and nonEmpty(record.home)
  if WIN_ENV then
    local setHome = home and ('set "STILLMOTION_HOME=' .. home .. '" && ') or ""
    return setHome .. 'start "Stillmotion" /min ' .. args
  end
  local logDir = LrPathUtils.getStandardFilePath("temp")
  local log = LrPathUtils.child(logDir, "stillmotion-daemon.log")
  local setHome = home and ("STILLMOTION_HOME=" .. shellQuote(home) .. " ") or ""
  return setHome .. "nohup " .. args .. " >" .. shellQuote(log) .. " 2>&1 &"
end

--- Starts the daemon unless it already runs; waits up to `waitSeconds` for it.
-- Returns health info, or nil and a one-line message. Call from a task.
function DaemonConnection.start(waitSeconds)
  local s = DaemonConnection.settings()
  local client = StillmotionAPI.new { url = s.url, token = s.token }
  local health = client:health()
  if health then return health end
  local command = DaemonConnection.startCommand(s.url)
  LrTasks.execute(command)
  local deadline = (waitSeconds or 30) / 0.25
  for _ = 1, deadline do
    LrTasks.sleep(0.25)
    health = client:health()
    if health then return health end
  end
  return nil, "The daemon did not start within " .. (waitSeconds or 30) .. " seconds (command: " .. command
      .. "). Run \"stillmotion serve\" in a terminal to see why."
end

return DaemonConnection
