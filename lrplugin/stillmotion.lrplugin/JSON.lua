--[[
JSON.lua: a small, strict JSON encoder/decoder for Lightroom's Lua 5.1.

Lightroom ships no JSON library. This one:
  * decodes every escape, including \uXXXX and UTF-16 surrogate pairs, to UTF-8;
  * keeps arrays and objects apart: decoded tables carry a metatable
    (JSON.isArray / JSON.isObject), so an empty array re-encodes as [] and an
    empty object as {};
  * decodes null to the sentinel JSON.null (so nulls inside arrays keep their
    place), or drops null members of objects with { dropNulls = true };
  * refuses what is not JSON (trailing commas, NaN, raw control characters,
    lone surrogates, trailing garbage) with a message that names the position;
  * reads and writes numbers with a decimal point under any locale (see JSON.toNumber);
  * defines no globals: everything is local and the module is returned.
]]

local JSON = {}

local byte, char, find, format, sub, concat =
    string.byte, string.char, string.find, string.format, string.sub, table.concat
local floor, huge = math.floor, math.huge

local MAX_DEPTH = 512   -- deeper documents are refused rather than overflowing the C stack

-- Sentinel for JSON null: a unique, printable value.
JSON.null = setmetatable({}, { __tostring = function() return "null" end })

local arrayMeta = { __jsontype = "array" }
local objectMeta = { __jsontype = "object" }

--- Marks `t` (or a new table) as a JSON array, so it encodes as [] even when empty.
function JSON.array(t) return setmetatable(t or {}, arrayMeta) end

--- Marks `t` (or a new table) as a JSON object, so it encodes as {} even when empty.
function JSON.object(t) return setmetatable(t or {}, objectMeta) end

function JSON.isArray(t) return type(t) == "table" and getmetatable(t) == arrayMeta end
function JSON.isObject(t) return type(t) == "table" and getmetatable(t) == objectMeta end
function JSON.isNull(v) return v == JSON.null end

---------------------------------------------------------------------------
-- Numbers under any locale
---------------------------------------------------------------------------

-- Lightroom sets the C library's locale from the OS, and Lua 5.1 formats and reads numbers
-- with the C library: on a German, French or Brazilian system string.format("%g", 0.5) gives
-- "0,5" and tonumber("0.5") gives nil. JSON (and the daemon) want a decimal point.

-- The locale's decimal point as string.format writes it ("." or ",", maybe several bytes).
local function localePoint()
  return sub(format("%.1f", 0.5), 2, -2)
end

--- tonumber for text whose decimal point is ".", under any locale: nil for anything else
-- (including text written with the locale's own decimal comma).
function JSON.toNumber(text)
  local point = localePoint()
  if point ~= "." then
    if find(text, point, 1, true) then return nil end
    text = text:gsub("%.", function() return point end)
  end
  return tonumber(text)
end

---------------------------------------------------------------------------
-- Encoding
---------------------------------------------------------------------------

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escapeChar(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

-- The bytes a JSON string cannot hold raw: the ASCII controls (and DEL), named byte by byte.
-- Lua's %c asks the C library, which under a single-byte locale (or a Mac's UTF-8 one) also
-- takes bytes 0x80-0x9F, the middle of "ß", "桜" or "の", and escaped them to \u0080..: not text.
local CONTROLS = "%z\1-\31\127"

local function encodeString(s)
  return '"' .. s:gsub('[' .. CONTROLS .. '"\\]', escapeChar) .. '"'
end

local function encodeNumber(n, path)
  if n ~= n or n == huge or n == -huge then
    error(format("JSON: cannot encode %s at %s (not a finite number)", tostring(n), path), 0)
  end
  -- Whole numbers print without an exponent while doubles hold them exactly;
  -- "%.0f" rather than "%d" because Windows' long is 32 bits.
  if n == floor(n) and n > -2^53 and n < 2^53 then
    return format("%.0f", n)
  end
  -- Whatever the locale put between the digits is the decimal point: JSON's is ".".
  local s = format("%.14g", n):gsub("[^%d%-+eE]+", ".")
  if JSON.toNumber(s) ~= n then s = format("%.17g", n):gsub("[^%d%-+eE]+", ".") end
  return s
end

-- Classifies a table: "array" (keys 1..n, or marked), else "object".
local function tableKind(t)
  local mt = getmetatable(t)
  if mt == arrayMeta then return "array" end
  if mt == objectMeta then return "object" end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then return "object" end
    n = n + 1
  end
  if n == 0 then return "object" end
  for i = 1, n do
    if t[i] == nil then return "object" end   -- sparse: keep the keys as strings
  end
  return "array"
end

local encodeValue

local function encodeTable(t, path, seen, depth)
  if seen[t] then error("JSON: cannot encode a table that contains itself at " .. path, 0) end
  if depth > MAX_DEPTH then error("JSON: nesting deeper than " .. MAX_DEPTH .. " at " .. path, 0) end
  seen[t] = true
  local out = {}
  if tableKind(t) == "array" then
    for i = 1, #t do
      out[i] = encodeValue(t[i], path .. "[" .. i .. "]", seen, depth + 1)
    end
    seen[t] = nil
    return "[" .. concat(out, ",") .. "]"
  end
  local keys, byName = {}, {}
  for k in pairs(t) do
    local kt = type(k)
    if kt ~= "string" and kt ~= "number" then
      error(format("JSON: cannot encode a %s key at %s", kt, path), 0)
    end
    local name = kt == "number" and encodeNumber(k, path) or k
    if byName[name] ~= nil then
      error(format("JSON: key %q appears twice at %s", name, path), 0)
    end
    byName[name] = k
    keys[#keys + 1] = name
  end
  table.sort(keys)   -- stable output: equal tables encode to equal text
  for i, name in ipairs(keys) do
    out[i] = encodeString(name) .. ":" ..
        encodeValue(t[byName[name]], path .. "." .. name, seen, depth + 1)
  end
  seen[t] = nil
  return "{" .. concat(out, ",") .. "}"
end

encodeValue = function(v, path, seen, depth)
  local vt = type(v)
  if v == nil or v == JSON.null then return "null"
  elseif vt == "boolean" then return v and "true" or "false"
  elseif vt == "number" then return encodeNumber(v, path)
  elseif vt == "string" then return encodeString(v)
  elseif vt == "table" then return encodeTable(v, path, seen, depth)
  end
  error(format("JSON: cannot encode a %s at %s", vt, path), 0)
end

--- Encodes a Lua value as JSON text. Errors name the path of the bad value.
function JSON.encode(value)
  return encodeValue(value, "$", {}, 0)
end

---------------------------------------------------------------------------
-- Decoding
---------------------------------------------------------------------------

local function decodeError(str, pos, what)
  local line, col = 1, 1
  for i = 1, pos - 1 do
    if byte(str, i) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  error(format("JSON: %s at line %d column %d (character %d)", what, line, col, pos), 0)
end

local function skipSpace(str, pos)
  local _, last = find(str, "^[ \n\r\t]*", pos)
  return last + 1
end

local function utf8(cp)
  if cp < 0x80 then return char(cp)
  elseif cp < 0x800 then
    return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
              0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local simpleEscapes = {
  [34] = '"', [92] = '\\', [47] = '/', [98] = '\b',
  [102] = '\f', [110] = '\n', [114] = '\r', [116] = '\t',
}

local function readHex4(str, pos)
  local hex = sub(str, pos, pos + 3)
  if not find(hex, "^%x%x%x%x$") then decodeError(str, pos, "expected four hex digits after \\u") end
  return tonumber(hex, 16)
end

local function decodeString(str, pos)
  -- pos is at the opening quote
  local parts, i = {}, pos + 1
  while true do
    local runEnd = find(str, '["\\' .. CONTROLS .. ']', i)
    if not runEnd then decodeError(str, pos, "unterminated string") end
    if runEnd > i then parts[#parts + 1] = sub(str, i, runEnd - 1) end
    local c = byte(str, runEnd)
    if c == 34 then
      return concat(parts), runEnd + 1
    elseif c == 92 then
      local e = byte(str, runEnd + 1)
      if e == 117 then   -- \u
        local cp = readHex4(str, runEnd + 2)
        local nextPos = runEnd + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          if sub(str, nextPos, nextPos + 1) ~= "\\u" then
            decodeError(str, runEnd, "lone high surrogate in \\u escape")
          end
          local low = readHex4(str, nextPos + 2)
          if low < 0xDC00 or low > 0xDFFF then
            decodeError(str, nextPos, "high surrogate not followed by a low surrogate")
          end
          cp = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00)
          nextPos = nextPos + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          decodeError(str, runEnd, "lone low surrogate in \\u escape")
        end
        parts[#parts + 1] = utf8(cp)
        i = nextPos
      elseif e and simpleEscapes[e] then
        parts[#parts + 1] = simpleEscapes[e]
        i = runEnd + 2
      else
        decodeError(str, runEnd, "invalid escape in string")
      end
    elseif c == 127 then   -- DEL is among CONTROLS (escaped when encoding) but allowed raw in JSON
      parts[#parts + 1] = "\127"
      i = runEnd + 1
    else
      decodeError(str, runEnd, "raw control character in string")
    end
  end
end

local function decodeNumber(str, pos)
  local _, last = find(str, "^-?%d+", pos)
  if not last then decodeError(str, pos, "invalid number") end
  local intPart = sub(str, pos, last)
  if find(intPart, "^-?0%d") then decodeError(str, pos, "number with a leading zero") end
  local fracEnd = select(2, find(str, "^%.%d+", last + 1))
  if fracEnd then last = fracEnd
  elseif sub(str, last + 1, last + 1) == "." then decodeError(str, last + 1, "digit expected after '.'") end
  local expEnd = select(2, find(str, "^[eE][-+]?%d+", last + 1))
  if expEnd then last = expEnd
  elseif find(str, "^[eE]", last + 1) then decodeError(str, last + 1, "digit expected in exponent") end
  return JSON.toNumber(sub(str, pos, last)), last + 1
end

local decodeValue

local function decodeArray(str, pos, opts, depth)
  local result, n = JSON.array(), 0
  pos = skipSpace(str, pos + 1)
  if byte(str, pos) == 93 then return result, pos + 1 end
  while true do
    local value
    value, pos = decodeValue(str, pos, opts, depth + 1)
    n = n + 1
    result[n] = value
    pos = skipSpace(str, pos)
    local c = byte(str, pos)
    if c == 93 then return result, pos + 1 end
    if c ~= 44 then decodeError(str, pos, "expected ',' or ']' in array") end
    pos = skipSpace(str, pos + 1)
    if byte(str, pos) == 93 then decodeError(str, pos, "trailing comma in array") end
  end
end

local function decodeObject(str, pos, opts, depth)
  local result = JSON.object()
  pos = skipSpace(str, pos + 1)
  if byte(str, pos) == 125 then return result, pos + 1 end
  while true do
    if byte(str, pos) ~= 34 then decodeError(str, pos, "expected a string key in object") end
    local key
    key, pos = decodeString(str, pos)
    pos = skipSpace(str, pos)
    if byte(str, pos) ~= 58 then decodeError(str, pos, "expected ':' after object key") end
    local value
    value, pos = decodeValue(str, skipSpace(str, pos + 1), opts, depth + 1)
    if not (opts.dropNulls and value == JSON.null) then result[key] = value end
    pos = skipSpace(str, pos)
    local c = byte(str, pos)
    if c == 125 then return result, pos + 1 end
    if c ~= 44 then decodeError(str, pos, "expected ',' or '}' in object") end
    pos = skipSpace(str, pos + 1)
    if byte(str, pos) == 125 then decodeError(str, pos, "trailing comma in object") end
  end
end

local literals = { t = { "true", true }, f = { "false", false }, n = { "null", nil } }

decodeValue = function(str, pos, opts, depth)
  if depth > MAX_DEPTH then decodeError(str, pos, "nesting deeper than " .. MAX_DEPTH) end
  pos = skipSpace(str, pos)
  local c = sub(str, pos, pos)
  if c == "{" then return decodeObject(str, pos, opts, depth)
  elseif c == "[" then return decodeArray(str, pos, opts, depth)
  elseif c == '"' then return decodeString(str, pos)
  elseif c == "-" or find(c, "^%d$") then return decodeNumber(str, pos)
  elseif literals[c] then
    local word = literals[c][1]
    if sub(str, pos, pos + #word - 1) ~= word then decodeError(str, pos, "unexpected character") end
    local value = literals[c][2]
    if word == "null" then value = JSON.null end
    return value, pos + #word
  elseif c == "" then
    decodeError(str, pos, "unexpected end of text")
  end
  decodeError(str, pos, "unexpected character '" .. c .. "'")
end

--- Decodes JSON text. opts.dropNulls: leave null members out of objects.
-- Raises an error (a string starting "JSON:") on anything that is not JSON.
function JSON.decode(str, opts)
  if type(str) ~= "string" then
    error("JSON: cannot decode a " .. type(str) .. " (a string is needed)", 0)
  end
  local value, pos = decodeValue(str, 1, opts or {}, 0)
  pos = skipSpace(str, pos)
  if pos <= #str then decodeError(str, pos, "unexpected text after the JSON value") end
  return value
end

return JSON
