--[[
decimal_comma.lua: makes this Lua state behave as Lightroom's does on a German, French or
Brazilian system, where Lightroom sets the C library's locale from the OS and its Lua
(which formats and reads numbers with the C library) follows:
  tostring(0.5) and string.format("%g"/"%f"/"%e", 0.5) give "0,5";
  tonumber("0.5") is nil (strtod stops at the '.') and tonumber("0,5") is 0.5.
Run it before the code under test is loaded: modules keep their own copy of string.format.
(Number literals in source code and ".." on numbers are not simulated: Lua's lexer reads
literals the same under any locale, and ".." cannot be wrapped from Lua.)
]]

local realFormat, realToString, realToNumber = string.format, tostring, tonumber

local function comma(text) return (text:gsub("%.", ",")) end

string.format = function(fmt, ...)
  local args, n = { ... }, 0
  -- Format each conversion on its own so only floating-point ones take the comma.
  local out = fmt:gsub("(%%[-+ #0]*%d*%.?%d*)(.)", function(flags, conversion)
    if conversion == "%" then return "%" end
    n = n + 1
    local text = realFormat(flags .. conversion, args[n])
    if conversion:find("^[eEfgG]$") then text = comma(text) end
    return text
  end)
  return out
end

tostring = function(v)
  if type(v) == "number" then return comma(realToString(v)) end
  return realToString(v)
end

tonumber = function(v, base)
  if type(v) == "string" and (base == nil or base == 10) then
    if v:find(".", 1, true) then return nil end
    return realToNumber((v:gsub(",", ".")))
  end
  return realToNumber(v, base)
end
