--[[
Fake LrPathUtils, LrFileUtils (real files, through the Python bridge) and
LrHttp (real HTTP, through Python's urllib, with LrHttp's calling
conventions: headers as { field, value } pairs, network errors as
nil + { error = { errorCode, name } }, HTTP errors as a normal answer).
]]

local Fake, py = ...

local LrPathUtils = {}

local function stripSlash(p)
  if #p > 1 then return (p:gsub("/+$", "")) end
  return p
end

function LrPathUtils.child(parent, name) return stripSlash(parent) .. "/" .. name end
function LrPathUtils.parent(path)
  local p = stripSlash(path):match("^(.*)/[^/]*$")
  if p == "" then return "/" end
  return p
end
function LrPathUtils.leafName(path) return stripSlash(path):match("([^/]*)$") end
function LrPathUtils.extension(path)
  return LrPathUtils.leafName(path):match("%.([^.]*)$") or ""
end
function LrPathUtils.removeExtension(path)
  local leaf = LrPathUtils.leafName(path)
  local stem = leaf:match("^(.+)%.[^.]*$")
  if not stem then return path end
  return path:sub(1, #path - #leaf) .. stem
end
function LrPathUtils.addExtension(path, ext) return path .. "." .. ext end
function LrPathUtils.replaceExtension(path, ext) return LrPathUtils.removeExtension(path) .. "." .. ext end
function LrPathUtils.standardizePath(path) return py.realpath(path) end
function LrPathUtils.isAbsolute(path) return path:sub(1, 1) == "/" end
function LrPathUtils.getStandardFilePath(name)
  local p = Fake.standardPaths[name]
  if not p then error("getStandardFilePath: unknown name '" .. tostring(name) .. "'", 2) end
  return p
end

local LrFileUtils = {}

function LrFileUtils.exists(path)
  local kind = py.exists(path)
  if kind == "" then return false end
  return kind
end
function LrFileUtils.readFile(path) return py.read_text(path) end
function LrFileUtils.createAllDirectories(path) return py.mkdirs(path) end
function LrFileUtils.createDirectory(path) return py.mkdirs(path) end
function LrFileUtils.delete(path) return py.delete(path) end
function LrFileUtils.moveToTrash(path) return py.trash(path) end
function LrFileUtils.copy(src, dst) return py.copy(src, dst) end
function LrFileUtils.move(src, dst) return py.move(src, dst) end
function LrFileUtils.isReadable(path) return py.exists(path) ~= "" end
function LrFileUtils.isWritable(path) return py.exists(path) ~= "" end
function LrFileUtils.files(path)
  local list, i = py.listdir(path), 0
  return function()
    i = i + 1
    return list[i]
  end
end
LrFileUtils.directoryEntries = LrFileUtils.files

---------------------------------------------------------------------------
local LrHttp = {}

local function headerList(headers)
  local out = {}
  for _, h in ipairs(headers or {}) do
    assert(type(h) == "table" and h.field and h.value ~= nil,
           "LrHttp: headers must be an array of { field = ..., value = ... }")
    out[#out + 1] = { h.field, tostring(h.value) }
  end
  return out
end

local function answer(res)
  if res.errorCode then
    return nil, { error = { errorCode = res.errorCode, name = res.errorName, nativeCode = -1 } }
  end
  local info = { status = res.status }
  for i, pair in ipairs(res.headers) do info[i] = { field = pair[1], value = pair[2] } end
  return res.body, info
end

function LrHttp.get(url, headers, timeout)
  Fake.requireTask("LrHttp.get")
  return answer(py.http("GET", url, headerList(headers), nil, nil, timeout or 30))
end

function LrHttp.post(url, postBody, headers, method, timeout, totalSize)
  Fake.requireTask("LrHttp.post")
  return answer(py.http(method or "POST", url, headerList(headers), postBody or "", nil, timeout or 30))
end

function LrHttp.postMultipart(url, content, headers, timeout, callbackFn, suppressFormData)
  Fake.requireTask("LrHttp.postMultipart")
  local parts = {}
  for _, part in ipairs(content) do
    assert(part.name, "LrHttp.postMultipart: every part needs a name")
    if part.filePath then
      parts[#parts + 1] = { name = part.name, filePath = part.filePath,
                            fileName = part.fileName or LrPathUtils.leafName(part.filePath),
                            contentType = part.contentType or "application/octet-stream" }
    else
      assert(type(part.value) == "string", "LrHttp.postMultipart: part '" .. part.name .. "' needs a string value")
      parts[#parts + 1] = { name = part.name, value = part.value }
    end
  end
  return answer(py.http("POST", url, headerList(headers), nil, parts, timeout or 30))
end

Fake.modules.LrPathUtils = LrPathUtils
Fake.modules.LrFileUtils = LrFileUtils
Fake.modules.LrHttp = LrHttp
