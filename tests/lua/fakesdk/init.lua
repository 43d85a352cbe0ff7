--[[
The fake Lightroom Classic SDK used by tests/lua: loads the fake namespaces
and runs a plug-in's own files the way Lightroom does (Info.lua in a bare
environment, everything else with import / require / LOC / _PLUGIN, one
shared environment per plug-in, require caching each module once).
Any global a plug-in file defines is recorded in Fake.globalsDefined.
]]

local py, sdkDir, platform = ...

local Fake = { modules = {} }

local function loadPart(name)
  local path = sdkDir .. "/" .. name .. ".lua"
  local chunk = assert(loadstring(py.read_text(path), "@" .. path))
  chunk(Fake, py)
end

loadPart("runtime")
loadPart("files")
loadPart("ui")
loadPart("catalog")
loadPart("export")

Fake.globalsDefined = {}

local SAFE_OS = { getenv = os.getenv, time = os.time, date = os.date, clock = os.clock }

local function baseEnvironment()
  return {
    string = string, table = table, math = math, os = SAFE_OS, io = io, coroutine = coroutine,
    pairs = pairs, ipairs = ipairs, next = next, select = select, unpack = unpack,
    type = type, tostring = tostring, tonumber = tonumber, error = error, assert = assert,
    pcall = pcall, xpcall = xpcall, rawget = rawget, rawset = rawset, rawequal = rawequal,
    setmetatable = setmetatable, getmetatable = getmetatable, print = print, _VERSION = _VERSION,
    LOC = Fake.LOC,
  }
end

--- Loads `path` as a chunk running in `env`.
local function loadIn(path, env)
  local source = py.read_text(path)
  if not source then error("plug-in file not found: " .. path, 2) end
  local chunk, err = loadstring(source, "@" .. path)
  if not chunk then error(err, 0) end
  setfenv(chunk, env)
  return chunk
end

--- Loads the plug-in folder: Info.lua, its environment, metadata fields.
function Fake.loadPlugin(pluginPath)
  local infoEnv = { LOC = Fake.LOC }
  local info = loadIn(pluginPath .. "/Info.lua", infoEnv)()
  assert(type(info) == "table", "Info.lua must return a table")
  Fake.info = info
  Fake.plugin = { id = info.LrToolkitIdentifier, path = pluginPath, enabled = true }

  local base = baseEnvironment()
  base.import = function(name)
    local m = Fake.modules[name]
    if not m then error("import: the fake SDK has no namespace '" .. tostring(name) .. "'", 2) end
    return m
  end
  base._PLUGIN = Fake.plugin
  base.MAC_ENV = platform == "mac" or nil
  base.WIN_ENV = platform == "win" or nil

  local loaded = {}
  local env = setmetatable({}, {
    __index = base,
    __newindex = function(t, k, v)
      Fake.globalsDefined[#Fake.globalsDefined + 1] = k
      rawset(t, k, v)
    end,
  })
  base.require = function(name)
    if loaded[name] == nil then
      loaded[name] = loadIn(pluginPath .. "/" .. name .. ".lua", env)() or true
    end
    return loaded[name]
  end
  Fake.env = env
  Fake.require = base.require

  Fake.metadataFields = {}
  if info.LrMetadataProvider then
    local def = loadIn(pluginPath .. "/" .. info.LrMetadataProvider, env)()
    for _, field in ipairs(def.metadataFieldsForPhotos or {}) do Fake.metadataFields[field.id] = field end
    Fake.metadataDefinition = def
  end
  return info
end

--- Runs a plug-in file the way Lightroom runs menu items: afresh, each time.
function Fake.runFile(name)
  return loadIn(Fake.plugin.path .. "/" .. name, Fake.env)()
end

--- The export service provider table (loaded once, like Lightroom does).
function Fake.provider()
  if not Fake._provider then
    local entry = Fake.info.LrExportServiceProvider
    if entry[1] then entry = entry[1] end
    Fake._provider = Fake.runFile(entry.file)
  end
  return Fake._provider
end

--- Chooses a Library > Plug-in Extras item by title.
function Fake.chooseMenuItem(title)
  local items = Fake.info.LrLibraryMenuItems
  if items.title then items = { items } end
  for _, item in ipairs(items) do
    if item.title == title then return Fake.runFile(item.file) end
  end
  error("no Library menu item titled '" .. tostring(title) .. "'")
end

--- A fresh environment with nothing but Lua's base library, for global-leak checks.
function Fake.isolatedLoad(path)
  local env = baseEnvironment()
  local before = {}
  for k in pairs(env) do before[k] = true end
  local value = loadIn(path, env)()
  local leaked = {}
  for k in pairs(env) do if not before[k] then leaked[#leaked + 1] = k end end
  return value, leaked
end

return Fake
