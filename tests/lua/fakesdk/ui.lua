--[[
Fake LrView and LrBinding. Views are plain tables ({ _kind = "checkbox", ... }),
so tests can walk a dialog, read its bindings and press its buttons. The
factory knows the real control names: a misspelt one is an error, as in
Lightroom. Property tables are observable, like LrBinding's.
]]

local Fake = ...

local KINDS = {
  "row", "column", "view", "group_box", "tab_view", "tab_view_item", "scrolled_view",
  "static_text", "edit_field", "password_field", "combo_box", "popup_menu", "checkbox",
  "radio_button", "push_button", "slider", "separator", "spacer", "picture", "catalog_photo",
  "simple_list", "color_well", "spinning_wheel",
}

local function makeFactory()
  local f = {}
  for _, kind in ipairs(KINDS) do
    f[kind] = function(self, args)
      assert(self == f, "LrView factory: call controls with ':' (f:" .. kind .. " {...})")
      local view = { _kind = kind }
      for k, v in pairs(args or {}) do view[k] = v end
      return view
    end
  end
  function f:control_spacing() return 8 end
  function f:dialog_spacing() return 12 end
  function f:label_spacing() return 4 end
  return setmetatable(f, { __index = function(_, name)
    error("LrView factory has no control named '" .. tostring(name) .. "'", 2)
  end })
end

local LrView = {}
function LrView.osFactory() return makeFactory() end
function LrView.bind(spec)
  if type(spec) == "string" then return { _bind = spec } end
  assert(type(spec) == "table", "LrView.bind: a key or a table is needed")
  return { _bind = spec.key or spec.keys, _spec = spec }
end
function LrView.share(name) return { _share = name } end

--- Every view in a tree, depth first.
function Fake.walkView(view, out)
  out = out or {}
  if type(view) ~= "table" then return out end
  if view._kind then out[#out + 1] = view end
  for _, child in ipairs(view) do Fake.walkView(child, out) end
  return out
end

---------------------------------------------------------------------------
-- Observable property tables.
local PropertyTable = {}

local function makePropertyTable(initial)
  local data, observers = {}, {}
  local t = {}
  local methods = {
    addObserver = function(self, key, fn)
      observers[key] = observers[key] or {}
      table.insert(observers[key], fn)
    end,
    removeObserver = function(self, key, fn)
      for i, g in ipairs(observers[key] or {}) do
        if g == fn then table.remove(observers[key], i) return end
      end
    end,
    _data = function() return data end,
  }
  setmetatable(t, {
    __index = function(_, k)
      if methods[k] and data[k] == nil then return methods[k] end
      return data[k]
    end,
    __newindex = function(_, k, v)
      local old = data[k]
      data[k] = v
      if old ~= v then
        for _, fn in ipairs(observers[k] or {}) do fn(t, k, v) end
      end
    end,
    __pairs = function() return next, data, nil end,
  })
  for k, v in pairs(initial or {}) do data[k] = v end
  return t
end
Fake.makePropertyTable = makePropertyTable

local LrBinding = {}
function LrBinding.makePropertyTable(context) return makePropertyTable() end
function LrBinding.keyEquals(key, value) return { _bind = key, _equals = value } end
function LrBinding.negativeOfKey(key) return { _bind = key, _negate = true } end

Fake.modules.LrView = LrView
Fake.modules.LrBinding = LrBinding
