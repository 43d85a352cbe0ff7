--[[
StillmotionAPI.lua: the client for the Stillmotion daemon's HTTP API, and the
only file in the plug-in that speaks HTTP (contract: shared DESIGN.md).

  local client = StillmotionAPI.new{ url = "http://127.0.0.1:8765", token = "..." }
  local info, err = client:health()

Every call returns result, nil on success or nil, err on failure, where err is
  { kind = "unreachable" | "unauthorized" | "http" | "bad_response",
    status = <HTTP status or nil>, code = <daemon error code or nil>,
    message = <one readable line> }
and StillmotionAPI.describe(err) turns it into the line to show the user.
Must run inside an LrTasks task (LrHttp's rule).
]]

local LrHttp = import "LrHttp"
local LrPathUtils = import "LrPathUtils"
local LrTasks = import "LrTasks"

local JSON = require "JSON"

local StillmotionAPI = {}
StillmotionAPI.__index = StillmotionAPI

StillmotionAPI.DEFAULT_URL = "http://127.0.0.1:8765"
StillmotionAPI.START_HINT =
  "Start it with \"stillmotion serve\" in a terminal (or File > Plug-in Manager > Stillmotion > Start daemon), then try again."

local QUICK_TIMEOUT = 10      -- seconds: status calls on a local daemon
local UPLOAD_TIMEOUT = 600    -- seconds: a full-size 16-bit TIFF can be large

local CONTENT_TYPES = { jpg = "image/jpeg", jpeg = "image/jpeg", tif = "image/tiff", tiff = "image/tiff",
                        png = "image/png", webp = "image/webp" }

--- The daemon URL as typed (in the Plug-in Manager), made whole: trimmed, the default when
-- empty, http:// when no scheme is given ("127.0.0.1:9000": LrHttp refuses it, and no port
-- could be read from it to start the daemon on), no trailing slash.
function StillmotionAPI.normalizeUrl(url)
  url = tostring(url or ""):match("^%s*(.-)%s*$")
  if url == "" then url = StillmotionAPI.DEFAULT_URL end
  if not url:find("^%a[%w+.-]*://") then url = "http://" .. url end
  return (url:gsub("/+$", ""))
end

--- A client for the daemon at opts.url (default 127.0.0.1:8765) with opts.token.
function StillmotionAPI.new(opts)
  opts = opts or {}
  return setmetatable({ url = StillmotionAPI.normalizeUrl(opts.url), token = opts.token }, StillmotionAPI)
end

--- The one line to show for an error returned by any call, or for a Lua error caught by
-- pcall (without the "File.lua:123: " position Lua puts in front: not the photographer's).
function StillmotionAPI.describe(err)
  if type(err) ~= "table" then
    local text = tostring(err)
    repeat
      local before = text
      text = text:gsub("^[^\n]-%.lua:%d+: ", ""):gsub('^%[string "[^"]*"%]:%d+: ', "")
    until text == before
    return text
  end
  return err.message or tostring(err.kind)
end

--- True when err means the daemon is not running (or not reachable at its URL).
function StillmotionAPI.isUnreachable(err)
  return type(err) == "table" and err.kind == "unreachable"
end

---------------------------------------------------------------------------

function StillmotionAPI:_headers(extra)
  local headers = {}
  if self.token and self.token ~= "" then
    headers[#headers + 1] = { field = "Authorization", value = "Bearer " .. self.token }
  end
  for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
  return headers
end

local function headerStatus(info)
  return type(info) == "table" and tonumber(info.status) or nil
end

-- Turns LrHttp's (body, info) pair into (decoded, nil) or (nil, err).
function StillmotionAPI:_result(body, info, what)
  if body == nil and type(info) == "table" and info.error then
    local code = info.error.errorCode
    if code == "timedOut" then
      return nil, { kind = "unreachable", code = code,
                    message = "The Stillmotion daemon at " .. self.url .. " did not answer in time (" .. what .. ")." }
    end
    return nil, { kind = "unreachable", code = code,
                  message = "The Stillmotion daemon is not running at " .. self.url .. ". " .. StillmotionAPI.START_HINT }
  end
  local status = headerStatus(info)
  local ok, decoded = pcall(JSON.decode, body or "", { dropNulls = true })
  -- 401 is the token; a 403 (a path or Host the daemon refuses) carries its own message.
  if status == 401 then
    return nil, { kind = "unauthorized", status = status,
                  message = "The Stillmotion daemon refused the token. Check the token in File > Plug-in Manager > Stillmotion "
                         .. "(it is the file \"token\" in the daemon's data folder)." }
  end
  if status and status >= 400 then
    local message, code
    if ok and type(decoded) == "table" and type(decoded.error) == "table" then
      message, code = decoded.error.message, decoded.error.code
    end
    return nil, { kind = "http", status = status, code = code,
                  message = message or ("The daemon answered HTTP " .. status .. " to " .. what .. ".") }
  end
  if not ok or type(decoded) ~= "table" then
    return nil, { kind = "bad_response", status = status,
                  message = "The daemon sent an answer that is not JSON (" .. what .. "). Is " .. self.url .. " really Stillmotion?" }
  end
  return decoded, nil
end

function StillmotionAPI:_get(path, what)
  local body, info = LrHttp.get(self.url .. path, self:_headers(), QUICK_TIMEOUT)
  return self:_result(body, info, what)
end

---------------------------------------------------------------------------
-- Endpoints

--- GET /v1/health -> { status = "ok", version, device, engines }. Needs no token.
function StillmotionAPI:health()
  return self:_get("/v1/health", "health check")
end

--- GET /v1/engines -> engines/models, their capabilities and whether usable here.
function StillmotionAPI:engines()
  return self:_get("/v1/engines", "engine list")
end

--- GET /v1/jobs: a cheap authenticated call, used to check the token.
function StillmotionAPI:listJobs()
  return self:_get("/v1/jobs?limit=1", "job list")
end

-- Multipart parts for a rendered image plus string fields (skipping nils).
local function imageParts(imagePath, fields)
  local ext = (LrPathUtils.extension(imagePath) or ""):lower()
  local parts = {
    { name = "image", filePath = imagePath, fileName = LrPathUtils.leafName(imagePath),
      contentType = CONTENT_TYPES[ext] or "application/octet-stream" },
  }
  for _, f in ipairs(fields) do
    if f[2] ~= nil then parts[#parts + 1] = { name = f[1], value = f[2] } end
  end
  return parts
end

-- Seconds to wait before each retry of a submission whose answer was lost.
StillmotionAPI.SUBMIT_RETRY_SECONDS = { 1, 3 }

-- Transport errors that mean the request never reached the daemon (nothing to
-- retry: the daemon is not running there, or the URL is wrong).
local NEVER_SENT = { cannotConnectToHost = true, cannotFindHost = true, notConnectedToInternet = true,
                     badURL = true, unsupportedURL = true, dnsLookupFailed = true }

-- The LrHttp error code when the call got no answer at all (nil for an HTTP answer).
local function transportError(body, info)
  if body == nil and type(info) == "table" and type(info.error) == "table" then
    return info.error.errorCode or "unknown"
  end
  return nil
end

--- POST /v1/jobs with the rendered image.
-- job = { imagePath, originalPath, develop (table), settings (table), idempotencyKey }
-- -> { id, status }
-- With an idempotencyKey the daemon returns the job it already made for that key, so a
-- submission whose answer was lost (timeout, connection reset) is sent again with the
-- same key and the same parts, up to #SUBMIT_RETRY_SECONDS more times, and still makes
-- one clip. An HTTP answer (4xx/5xx included) is never retried: the daemon has spoken.
-- A refused connection is not retried either (the daemon is not running: say so at
-- once), and before each retry /v1/health must answer quickly, so a daemon that died
-- or hung is reported in seconds rather than after three upload timeouts.
function StillmotionAPI:submitJob(job)
  local parts = imageParts(job.imagePath, {
    { "original_path", job.originalPath },
    { "develop", job.develop and JSON.encode(job.develop) },
    { "settings", JSON.encode(JSON.object(job.settings or {})) },
  })
  local extra = {}
  if job.idempotencyKey then extra[1] = { field = "Idempotency-Key", value = job.idempotencyKey } end
  local headers = self:_headers(extra)
  local body, info = LrHttp.postMultipart(self.url .. "/v1/jobs", parts, headers, UPLOAD_TIMEOUT)
  for _, pause in ipairs(job.idempotencyKey and StillmotionAPI.SUBMIT_RETRY_SECONDS or {}) do
    local code = transportError(body, info)
    if code == nil or NEVER_SENT[code] then break end
    LrTasks.sleep(pause)
    local health, healthErr = self:health()
    if not health then return nil, healthErr end
    body, info = LrHttp.postMultipart(self.url .. "/v1/jobs", parts, headers, UPLOAD_TIMEOUT)
  end
  local result, err = self:_result(body, info, "job submission")
  if result and type(result.id) ~= "string" and type(result.id) ~= "number" then
    return nil, { kind = "bad_response", message = "The daemon accepted the job but sent no job id." }
  end
  return result, err
end

--- GET /v1/jobs/{id} -> { id, status, progress, stage, outputs, error }
function StillmotionAPI:job(id)
  return self:_get("/v1/jobs/" .. tostring(id), "job status")
end

--- DELETE /v1/jobs/{id}: cancel a queued or running job.
function StillmotionAPI:cancelJob(id)
  local body, info = LrHttp.post(self.url .. "/v1/jobs/" .. tostring(id), "", self:_headers(),
                                 "DELETE", QUICK_TIMEOUT)
  return self:_result(body, info, "job cancel")
end

--- POST /v1/analyze with a rendered image -> the readiness report.
-- opts = { imagePath, originalPath }
function StillmotionAPI:analyze(opts)
  local parts = imageParts(opts.imagePath, { { "original_path", opts.originalPath } })
  local body, info = LrHttp.postMultipart(self.url .. "/v1/analyze", parts, self:_headers(), UPLOAD_TIMEOUT)
  return self:_result(body, info, "readiness check")
end

return StillmotionAPI
