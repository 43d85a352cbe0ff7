--[[
Fake LrApplication / LrCatalog / LrPhoto, with stacks and publish services.

Rules of the real catalog that the fake enforces:
  * addPhoto, applyDevelopSettings, setRawMetadata need withWriteAccessDo;
    setPropertyForPlugin needs withWriteAccessDo or withPrivateWriteAccessDo;
    write-access calls do not nest and do not yield;
  * a catalog kept busy (`busy`, set by a test) makes a write-access call return
    "aborted" when given timeout parameters, and raise without them;
  * addPhoto refuses a file that is missing or already in the catalog, and
    stacks only with a photo in the same folder;
  * setPropertyForPlugin accepts only fields the plug-in's metadata provider
    defines (and, for enums, only their values);
  * a published photo is marked "modified" when its develop settings change, or
    when a field listed by metadataThatTriggersRepublish changes.
]]

local Fake, py = ...

local Catalog = {}
Catalog.__index = Catalog
local Photo = {}
Photo.__index = Photo

local function deepCopy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deepCopy(x) end
  return out
end

local function newCatalog(path)
  return setmetatable({ path = path, photos = {}, byPath = {}, nextId = 1, stacks = {},
                        writeAccess = nil, targets = nil, services = {}, writeLog = {} }, Catalog)
end

function Catalog:getPath() return self.path end

function Catalog:_requireWrite(what, privateOk)
  if self.writeAccess == "full" then return end
  if privateOk and self.writeAccess == "private" then return end
  error(what .. ": must be called from within catalog:withWriteAccessDo"
        .. (privateOk and " or catalog:withPrivateWriteAccessDo" or ""), 3)
end

local function withAccess(self, kind, name, func, timeoutParams)
  if self.writeAccess then
    error("LrCatalog:withWriteAccessDo: could not execute action '" .. tostring(name)
          .. "'. It was blocked by another write access call.", 3)
  end
  if self.busy then
    -- Lightroom (or another plug-in) holds the gate for longer than this call waits: with
    -- timeout parameters the call returns "aborted" (after calling their callback) without
    -- running func; without them it raises.
    Fake.requireTask("LrCatalog:withWriteAccessDo")
    if timeoutParams then
      if timeoutParams.callback then timeoutParams.callback() end
      return "aborted"
    end
    error("LrCatalog:withWriteAccessDo: could not execute action '" .. tostring(name)
          .. "'. It was blocked by another write access call, and no timeout parameters were provided.", 3)
  end
  Fake.requireTask("LrCatalog:withWriteAccessDo")
  self.writeAccess = kind
  -- Plain pcall on purpose: yielding inside a write-access function fails.
  local ok, err = pcall(func, {})
  self.writeAccess = nil
  self.writeLog[#self.writeLog + 1] = name or kind
  if not ok then error(err, 0) end
  return "executed"
end

function Catalog:withWriteAccessDo(actionName, func, timeoutParams)
  assert(type(actionName) == "string", "withWriteAccessDo: the first argument is the action's name")
  return withAccess(self, "full", actionName, func, timeoutParams)
end

function Catalog:withPrivateWriteAccessDo(func, timeoutParams)
  assert(type(func) == "function", "withPrivateWriteAccessDo: a function is needed")
  return withAccess(self, "private", "(private)", func, timeoutParams)
end

--- Test helper: adds a photo without write access (it is "already imported").
function Catalog:_import(path, meta)
  meta = meta or {}
  -- A virtual copy (meta.copyName, e.g. "Copy 1") shares its master's file.
  assert(meta.copyName or not self.byPath[path], "already in the catalog: " .. path)
  local photo = setmetatable({
    localIdentifier = self.nextId, path = path,
    title = meta.title or "", caption = meta.caption or "",
    keywords = meta.keywords or {}, develop = deepCopy(meta.develop or {}),
    pluginProps = {}, fileFormat = meta.fileFormat or "JPG", catalog = self, copyName = meta.copyName,
  }, Photo)
  self.nextId = self.nextId + 1
  self.photos[#self.photos + 1] = photo
  self.byPath[path] = self.byPath[path] or photo
  return photo
end

function Catalog:addPhoto(path, stackWithPhoto, position)
  self:_requireWrite("LrCatalog:addPhoto")
  if py.exists(path) ~= "file" then error("LrCatalog:addPhoto: file not found: " .. path, 2) end
  if self.byPath[path] then error("LrCatalog:addPhoto: the file is already in the catalog: " .. path, 2) end
  local LrPathUtils = Fake.modules.LrPathUtils
  local photo = self:_import(path, { fileFormat = (LrPathUtils.extension(path) or ""):upper() })
  if stackWithPhoto then
    assert(getmetatable(stackWithPhoto) == Photo, "LrCatalog:addPhoto: stackWithPhoto must be an LrPhoto")
    if LrPathUtils.parent(stackWithPhoto.path) ~= LrPathUtils.parent(path) then
      error("LrCatalog:addPhoto: a photo can only be stacked with a photo in the same folder", 2)
    end
    assert(position == "above" or position == "below", "LrCatalog:addPhoto: position must be 'above' or 'below'")
    local stack = stackWithPhoto.stack or { stackWithPhoto }
    stackWithPhoto.stack = stack
    local index
    for i, p in ipairs(stack) do if p == stackWithPhoto then index = i end end
    table.insert(stack, position == "above" and index or index + 1, photo)
    photo.stack = stack
  end
  return photo
end

function Catalog:findPhotoByPath(path) return self.byPath[path] end
function Catalog:getAllPhotos() return { unpack(self.photos) } end
function Catalog:getTargetPhotos() return { unpack(self.targets or self.photos) } end
function Catalog:getTargetPhoto() return (self.targets or self.photos)[1] end
function Catalog:_setTargets(list) self.targets = list end

-- catalog.targetPhotos is a property in the SDK.
local catalogIndex = Catalog.__index
Catalog.__index = function(t, k)
  if k == "targetPhotos" then return t:getTargetPhotos() end
  return Catalog[k]
end

---------------------------------------------------------------------------
-- Photos

function Photo:getRawMetadata(key)
  local LrPathUtils = Fake.modules.LrPathUtils
  if key == "path" then return self.path
  elseif key == "fileFormat" then return self.fileFormat
  elseif key == "isVirtualCopy" then return self.copyName ~= nil
  elseif key == "isVideo" then
    local ext = (LrPathUtils.extension(self.path) or ""):lower()
    return self.fileFormat == "VIDEO" or ({ mp4 = true, mov = true, avi = true, m4v = true, mts = true })[ext] == true
  elseif key == "uuid" then return "uuid-" .. self.localIdentifier
  elseif key == "keywords" then return deepCopy(self.keywords)
  elseif key == "isInStackInFolder" then return self.stack ~= nil
  elseif key == "topOfStackInFolderContainingPhoto" then return self.stack and self.stack[1] or nil
  elseif key == "countStackInFolderMembers" then return self.stack and #self.stack or 0
  elseif key == "stackPositionInFolder" then
    for i, p in ipairs(self.stack or {}) do if p == self then return i end end
    return nil
  end
  error("getRawMetadata: the fake does not know key '" .. tostring(key) .. "'", 2)
end

function Photo:getFormattedMetadata(key)
  local LrPathUtils = Fake.modules.LrPathUtils
  if key == "title" then return self.title
  elseif key == "caption" then return self.caption
  elseif key == "fileName" then return LrPathUtils.leafName(self.path)
  elseif key == "copyName" then return self.copyName
  elseif key == "folderName" then return LrPathUtils.leafName(LrPathUtils.parent(self.path))
  elseif key == "keywordTags" or key == "keywordTagsForExport" then return table.concat(self.keywords, ", ")
  end
  error("getFormattedMetadata: the fake does not know key '" .. tostring(key) .. "'", 2)
end

function Photo:getDevelopSettings() return deepCopy(self.develop) end

function Photo:applyDevelopSettings(settings, historyName, flattenAutoNow)
  self.catalog:_requireWrite("LrPhoto:applyDevelopSettings")
  for k, v in pairs(settings) do self.develop[k] = deepCopy(v) end
  Fake.markEdited(self, nil)   -- develop changes always call for republish
end

function Photo:setRawMetadata(key, value)
  self.catalog:_requireWrite("LrPhoto:setRawMetadata")
  if key == "title" or key == "caption" then self[key] = value
  elseif key == "keywords" then self.keywords = value
  else error("setRawMetadata: the fake does not know key '" .. tostring(key) .. "'", 2) end
  Fake.markEdited(self, key)
end

local function fieldDefinition(plugin, fieldId)
  assert(plugin == Fake.plugin, "getPropertyForPlugin/setPropertyForPlugin: pass _PLUGIN")
  return Fake.metadataFields[fieldId]
end

function Photo:getPropertyForPlugin(plugin, fieldId, version, noThrow)
  if not fieldDefinition(plugin, fieldId) and not noThrow then
    error("getPropertyForPlugin: field '" .. tostring(fieldId) .. "' is not defined by the plug-in's metadata provider", 2)
  end
  return self.pluginProps[fieldId]
end

function Photo:setPropertyForPlugin(plugin, fieldId, value)
  self.catalog:_requireWrite("LrPhoto:setPropertyForPlugin", true)
  local def = fieldDefinition(plugin, fieldId)
  if not def then
    error("setPropertyForPlugin: field '" .. tostring(fieldId) .. "' is not defined by the plug-in's metadata provider", 2)
  end
  if value ~= nil then
    if def.dataType == "enum" then
      local ok = false
      for _, v in ipairs(def.values or {}) do if v.value == value then ok = true end end
      if not ok then error("setPropertyForPlugin: '" .. tostring(value) .. "' is not a value of enum field " .. fieldId, 2) end
    elseif type(value) ~= "string" then
      error("setPropertyForPlugin: field " .. fieldId .. " takes a string, got " .. type(value), 2)
    end
  end
  self.pluginProps[fieldId] = value
  Fake.markEdited(self, Fake.plugin.id .. "." .. fieldId)
end

--- Test helper: the stack of a photo as paths, top first (nil when unstacked).
function Fake.stackPaths(photo)
  if not photo.stack then return nil end
  local out = {}
  for i, p in ipairs(photo.stack) do out[i] = p.path end
  return out
end

---------------------------------------------------------------------------
-- Publish services

local Service, Collection, Published = {}, {}, {}
Service.__index, Collection.__index, Published.__index = Service, Collection, Published

--- A publish service of the plug-in, with the provider's settings (+ overrides).
function Fake.createPublishService(name, overrides)
  local settings = Fake.exportDefaults()
  settings.LR_isExportForPublish = true
  for k, v in pairs(overrides or {}) do settings[k] = v end
  local service = setmetatable({ name = name, settings = settings, collections = {} }, Service)
  local provider = Fake.provider()
  service.triggers = provider.metadataThatTriggersRepublish and provider.metadataThatTriggersRepublish(settings) or { default = true }
  table.insert(Fake.catalog.services, service)
  return service
end

function Service:getName() return self.name end
function Service:getPublishSettings() return self.settings end
function Service:getPluginId() return Fake.plugin.id end

function Service:createPublishedCollection(name)
  Fake.catalog.nextId = Fake.catalog.nextId + 1      -- (one numbering, as Lightroom's catalog ids)
  local c = setmetatable({ name = name, service = self, entries = {}, order = {}, pendingDeletes = {},
                           localIdentifier = Fake.catalog.nextId }, Collection)
  table.insert(self.collections, c)
  return c
end

function Collection:getName() return self.name end
function Collection:getService() return self.service end
function Collection:getPublishedPhotos()
  local out = {}
  for _, photo in ipairs(self.order) do
    local e = self.entries[photo]
    if e.remoteId then out[#out + 1] = e end
  end
  return out
end

function Collection:addPhotos(photos)
  Fake.catalog:_requireWrite("LrCollection:addPhotos")
  for _, photo in ipairs(photos) do
    if not self.entries[photo] then
      self.entries[photo] = setmetatable({ photo = photo, edited = false }, Published)
      table.insert(self.order, photo)
    end
  end
end

function Collection:removePhotos(photos)
  Fake.catalog:_requireWrite("LrCollection:removePhotos")
  for _, photo in ipairs(photos) do
    local e = self.entries[photo]
    if e then
      if e.remoteId then table.insert(self.pendingDeletes, e.remoteId) end
      self.entries[photo] = nil
      for i, p in ipairs(self.order) do if p == photo then table.remove(self.order, i) break end end
    end
  end
end

--- Photos Lightroom would hand to the next Publish: new ones and modified ones.
function Collection:_toPublish()
  local out = {}
  for _, photo in ipairs(self.order) do
    local e = self.entries[photo]
    if not e.remoteId or e.edited then out[#out + 1] = photo end
  end
  return out
end

function Collection:_state(photo)
  local e = self.entries[photo]
  if not e then return "absent" end
  if not e.remoteId then return "new" end
  if e.edited then return "modified" end
  return "published"
end

function Published:getPhoto() return self.photo end
function Published:getRemoteId() return self.remoteId end
function Published:getRemoteUrl() return self.remoteUrl end
function Published:getEditedFlag() return self.edited end

--- A change to `photo`: key nil = develop settings (always republish).
function Fake.markEdited(photo, key)
  for _, service in ipairs(Fake.catalog.services) do
    local triggers = service.triggers
    local triggered = key == nil or triggers[key] == true or (triggers[key] == nil and triggers.default == true)
    if triggered then
      for _, c in ipairs(service.collections) do
        local e = c.entries[photo]
        if e and e.remoteId then e.edited = true end
      end
    end
  end
end

---------------------------------------------------------------------------
local LrApplication = {}
function LrApplication.activeCatalog() return Fake.catalog end
function LrApplication.versionTable() return { major = 13, minor = 0, revision = 0, build = 0 } end
function LrApplication.versionString() return "13.0" end

function Fake.newCatalog(path)
  Fake.catalog = newCatalog(path)
  return Fake.catalog
end

Fake.modules.LrApplication = LrApplication
