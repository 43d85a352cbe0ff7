--[[
Fake Lightroom runtime: LOC, LrTasks (a cooperative scheduler over Lua
coroutines, as Lightroom's tasks are), LrFunctionContext, LrProgressScope,
LrErrors, LrDialogs, LrLogger, LrPrefs, LrUUID.

Rules of the real SDK that the fake enforces, because plug-in code breaks on
them in Lightroom:
  * LrTasks.sleep / LrHttp.* only inside a task;
  * yielding across a plain pcall fails (Lua 5.1), which is why Lightroom has
    LrTasks.pcall; this LrTasks.pcall is yield-transparent like the real one;
  * an error escaping a task is shown as a dialog (user errors without the
    "internal error" wording).
]]

local Fake, py = ...

local function pack(...) return { n = select("#", ...), ... } end

---------------------------------------------------------------------------
-- LOC("$$$/Key=Text ^1", arg)
function Fake.LOC(s, ...)
  local text = tostring(s):match("^%$%$%$/[^=]*=(.*)$") or tostring(s)
  local args = { ... }
  return (text:gsub("%^(%d)", function(i) return tostring(args[tonumber(i)] or "") end))
end

---------------------------------------------------------------------------
-- Dialogs are recorded, never shown.
Fake.dialogs = {}
Fake.taskErrors = {}

local function recordDialog(entry)
  Fake.dialogs[#Fake.dialogs + 1] = entry
  if Fake.onDialog then Fake.onDialog(entry) end
end

local LrErrors = {}
local UserError = {}
UserError.__index = UserError
UserError.__tostring = function(e) return e.message end

function LrErrors.throwUserError(message)
  error(setmetatable({ message = tostring(message), user = true }, UserError), 0)
end

function LrErrors.throwCanceled()
  error(setmetatable({ message = "canceled", canceled = true }, UserError), 0)
end

function LrErrors.isCanceledError(e) return type(e) == "table" and e.canceled == true end

-- What Lightroom shows for an error that escaped plug-in code.
function Fake.showErrorDialog(err, where)
  if type(err) == "table" and err.canceled then return end
  if type(err) == "table" and err.user then
    recordDialog { kind = "userError", message = err.message }
  else
    recordDialog { kind = "error", message = "An internal error has occurred: " .. tostring(err) }
    Fake.taskErrors[#Fake.taskErrors + 1] = (where or "task") .. ": " .. tostring(err)
  end
end

local LrDialogs = {}

function LrDialogs.message(message, info, style)
  recordDialog { kind = "message", message = message, info = info, style = style or "info" }
end

function LrDialogs.showError(err)
  recordDialog { kind = "showError", message = tostring(err) }
end

function LrDialogs.confirm(message, info, actionVerb, cancelVerb, otherVerb)
  recordDialog { kind = "confirm", message = message, info = info }
  return Fake.confirmAnswer or "ok"
end

function LrDialogs.presentModalDialog(args)
  assert(type(args) == "table" and args.title and args.contents, "presentModalDialog: title and contents are required")
  local entry = { kind = "modal", title = args.title, contents = args.contents, actionVerb = args.actionVerb }
  recordDialog(entry)
  if Fake.modalHandler then return Fake.modalHandler(entry) end
  return "ok"
end

function LrDialogs.attachErrorDialogToFunctionContext(context)
  context._errorDialog = true
end

---------------------------------------------------------------------------
-- LrTasks: a cooperative scheduler.
local tasks = {}
local current = nil
-- Every coroutine made here, kept until the runtime goes: a Lua value that Python got while a
-- coroutine ran (a table passed to a Python callback) is released through that coroutine's
-- lua_State, and once Lua has collected a finished coroutine that release crashed the process
-- in Python's garbage collector (lupa, scoder/lupa#84; seen once in CI, mid-suite).
local made = {}

local function newCoroutine(fn)
  local co = coroutine.create(fn)
  made[#made + 1] = co
  return co
end

local LrTasks = {}

function LrTasks.startAsyncTask(fn, name)
  assert(type(fn) == "function", "startAsyncTask: a function is needed")
  tasks[#tasks + 1] = { co = newCoroutine(fn), name = name or "task", wake = 0 }
end
LrTasks.startAsyncTaskWithoutErrorHandler = LrTasks.startAsyncTask

function LrTasks.canYield() return current ~= nil end

function Fake.inTask() return current ~= nil end

function Fake.requireTask(what)
  if not current then error(what .. " must be called from within an asynchronous task (LrTasks)", 3) end
end

function LrTasks.sleep(seconds)
  Fake.requireTask("LrTasks.sleep")
  coroutine.yield(py.now() + (tonumber(seconds) or 0))
end

function LrTasks.yield()
  Fake.requireTask("LrTasks.yield")
  coroutine.yield(py.now())
end

--- Yield-transparent pcall: runs f in its own coroutine and passes its yields
-- up to the scheduler, so code inside may sleep or do HTTP.
function LrTasks.pcall(f, ...)
  local co = newCoroutine(f)
  local res = pack(coroutine.resume(co, ...))
  while true do
    if not res[1] then return false, res[2] end
    if coroutine.status(co) == "dead" then return true, unpack(res, 2, res.n) end
    local back = pack(coroutine.yield(unpack(res, 2, res.n)))
    res = pack(coroutine.resume(co, unpack(back, 1, back.n)))
  end
end

function LrTasks.execute(command)
  return py.execute(command)
end

function LrTasks.sleepUntil() error("not used") end

-- Python callables run between scheduler steps (e.g. a test pressing Cancel).
Fake.tickHooks = {}

--- Runs tasks until none is left. Errors escaping a task become dialogs.
function Fake.runTasks(timeout)
  local deadline = py.now() + (timeout or 120)
  while #tasks > 0 do
    local now = py.now()
    if now > deadline then
      local names = {}
      for _, t in ipairs(tasks) do names[#names + 1] = t.name end
      error("tasks still running after " .. tostring(timeout) .. " s: " .. table.concat(names, ", "))
    end
    for _, hook in ipairs(Fake.tickHooks) do hook() end
    local ran, nextWake = false, math.huge
    local snapshot = {}
    for i, t in ipairs(tasks) do snapshot[i] = t end
    for _, t in ipairs(snapshot) do
      if not t.dead and t.wake <= now then
        current = t
        local res = pack(coroutine.resume(t.co))
        current = nil
        ran = true
        if not res[1] then
          t.dead = true
          Fake.showErrorDialog(res[2], t.name .. "\n" .. debug.traceback(t.co))
        elseif coroutine.status(t.co) == "dead" then
          t.dead = true
        else
          t.wake = tonumber(res[2]) or now
        end
      end
      if not t.dead then nextWake = math.min(nextWake, t.wake) end
    end
    local alive = {}
    for _, t in ipairs(tasks) do if not t.dead then alive[#alive + 1] = t end end
    tasks = alive
    if not ran and nextWake > now then py.sleep(math.min(nextWake - now, 0.05)) end
  end
end

---------------------------------------------------------------------------
-- LrFunctionContext
local LrFunctionContext = {}

local function newContext(name)
  local ctx = { name = name, _cleanup = {}, _failure = {} }
  function ctx:addCleanupHandler(h) self._cleanup[#self._cleanup + 1] = h end
  function ctx:addFailureHandler(h) self._failure[#self._failure + 1] = h end
  function ctx:addOperationTitleForError(t) self._title = t end
  return ctx
end

function LrFunctionContext.callWithContext(name, fn, ...)
  local ctx = newContext(name)
  local res = pack(LrTasks.pcall(fn, ctx, ...))
  if not res[1] then
    for _, h in ipairs(ctx._failure) do h(false, res[2]) end
    for _, h in ipairs(ctx._cleanup) do h(false, res[2]) end
    if ctx._errorDialog then
      Fake.showErrorDialog(res[2], name)
      return
    end
    error(res[2], 0)
  end
  for _, h in ipairs(ctx._cleanup) do h(true) end
  return unpack(res, 2, res.n)
end

function LrFunctionContext.postAsyncTaskWithContext(name, fn)
  LrTasks.startAsyncTask(function() LrFunctionContext.callWithContext(name, fn) end, name)
end

function LrFunctionContext.callWithEmptyEnvironment(fn, ...) return fn(...) end

---------------------------------------------------------------------------
-- LrProgressScope
Fake.progressScopes = {}

local Scope = {}
Scope.__index = Scope

local function newScope(args)
  args = args or {}
  local s = setmetatable({ title = args.title, caption = args.caption or "", portion = 0,
                           canceled = false, finished = false, parent = args.parent,
                           history = {} }, Scope)
  Fake.progressScopes[#Fake.progressScopes + 1] = s
  return s
end
Fake.newProgressScope = newScope

function Scope:setPortionComplete(done, total)
  local p = (tonumber(done) or 0) / (tonumber(total) or 1)
  assert(p == p and p >= -1e-9 and p <= 1 + 1e-9, "setPortionComplete: portion out of range: " .. tostring(p))
  if p < self.portion - 1e-9 then self.wentBackwards = true end
  self.portion = p
  self.history[#self.history + 1] = p
end
function Scope:setCaption(c) self.caption = tostring(c) ; self.captions = (self.captions or 0) + 1 end
function Scope:setTitle(t) self.title = t end
function Scope:getCaption() return self.caption end
function Scope:isCanceled() return self.canceled or (self.parent ~= nil and self.parent:isCanceled()) end
function Scope:cancel() self.canceled = true end
function Scope:done() self.finished = true end
function Scope:isDone() return self.finished end
function Scope:setCancelable(b) self.cancelable = b end
function Scope:setIndeterminate() end
function Scope:attachToFunctionContext(ctx) end

local LrProgressScope = setmetatable({}, { __call = function(_, args) return newScope(args) end })

---------------------------------------------------------------------------
-- LrLogger: accepts any level, records nothing of interest.
local loggerMeta = { __index = function() return function() end end }
local LrLogger = setmetatable({}, { __call = function() return setmetatable({}, loggerMeta) end })

---------------------------------------------------------------------------
-- LrPrefs
Fake.prefs = {}
local LrPrefs = {}
function LrPrefs.prefsForPlugin() return Fake.prefs end

---------------------------------------------------------------------------
-- LrUUID (SDK 5+): a random UUID string, from Python's uuid4.
local LrUUID = {}
function LrUUID.generateUUID() return py.uuid4() end

Fake.modules.LrErrors = LrErrors
Fake.modules.LrDialogs = LrDialogs
Fake.modules.LrTasks = LrTasks
Fake.modules.LrFunctionContext = LrFunctionContext
Fake.modules.LrProgressScope = LrProgressScope
Fake.modules.LrLogger = LrLogger
Fake.modules.LrPrefs = LrPrefs
Fake.modules.LrUUID = LrUUID
-- LrDate: the clock only (seconds; Lightroom counts from 2001, the fake from any point).
Fake.modules.LrDate = { currentTime = function() return py.now() end }
