--[[
Fake LrExportSession / export context / renditions, and the two ways
Lightroom drives an export service provider: an export (Export dialog,
preset, or LrExportSession with the plug-in's provider id) and a publish.

Rendering is real: the photo's file is decoded and written as the export
settings say (JPEG, or 16-bit TIFF; full size unless constrained), by the
Python bridge. A photo whose file is missing fails to render, as in Lightroom.
Publishing follows Lightroom's bookkeeping: a rendition counts as published
only after recordPublishedPhotoId (which must come before
recordPublishedPhotoUrl); uploadFailed keeps the photo in "to publish" and
Lightroom lists all failures in one dialog at the end.
]]

local Fake, py = ...

local Session = {}
Session.__index = Session
local Rendition = {}
Rendition.__index = Rendition

local sessionCount = 0

--- The settings an export with the plug-in's provider starts from: Lightroom's
-- own defaults, then the provider's exportPresetFields defaults.
function Fake.exportDefaults()
  local settings = {
    LR_exportServiceProvider = Fake.plugin.id,
    LR_format = "JPEG", LR_jpeg_quality = 0.6, LR_export_colorSpace = "sRGB", LR_export_bitDepth = 8,
    LR_size_doConstrain = false, LR_collisionHandling = "rename",
  }
  for _, f in ipairs(Fake.provider().exportPresetFields or {}) do settings[f.key] = f.default end
  return settings
end

local function newSession(photos, settings, publish)
  sessionCount = sessionCount + 1
  local s = setmetatable({ photos = photos, settings = settings, catalog = Fake.catalog,
                           id = sessionCount, renditionList = {}, publish = publish }, Session)
  Fake.lastSession = s
  for i, photo in ipairs(photos) do
    s.renditionList[i] = setmetatable({ photo = photo, session = s, index = i,
                                        publishedPhotoId = publish and publish.remoteIds[photo] or nil,
                                        wasSkipped = false }, Rendition)
  end
  return s
end

local LrExportSession = setmetatable({}, { __call = function(_, params)
  assert(type(params) == "table" and params.photosToExport and params.exportSettings,
         "LrExportSession: photosToExport and exportSettings are required")
  return newSession(params.photosToExport, params.exportSettings)
end })

function Session:countRenditions() return #self.renditionList end

function Session:photosToExport()
  local i = 0
  return function()
    i = i + 1
    return self.photos[i]
  end
end

function Session:renditions(params)
  params = params or {}
  local i = 0
  return function()
    if params.stopIfCanceled and self.progress and self.progress:isCanceled() then return nil end
    i = i + 1
    local r = self.renditionList[i]
    if r then return i, r end
  end
end

function Session:doExportOnCurrentTask()
  Fake.requireTask("LrExportSession:doExportOnCurrentTask")
  if self.settings.LR_exportServiceProvider == Fake.plugin.id then
    Fake.runProvider(self)
  else
    for _, r in ipairs(self.renditionList) do r:waitForRender() end
  end
end

function Session:doExportOnNewTask()
  Fake.modules.LrTasks.startAsyncTask(function() self:doExportOnCurrentTask() end, "export")
end

-- Where a rendition goes: a hidden temporary folder for the plug-in's own
-- service (its Export Location section is hidden), else the chosen folder.
local function destinationFolder(session)
  local s = session.settings
  if s.LR_exportServiceProvider == Fake.plugin.id or s.LR_export_destinationType == "tempFolder" then
    return Fake.standardPaths.temp .. "/lr-export-" .. session.id
  end
  assert(s.LR_export_destinationPathPrefix, "export: LR_export_destinationPathPrefix is required")
  return s.LR_export_destinationPathPrefix
end

function Rendition:waitForRender()
  Fake.requireTask("LrExportRendition:waitForRender")
  if self.rendered == nil then
    local s = self.session.settings
    local LrPathUtils = Fake.modules.LrPathUtils
    local ext = s.LR_format == "TIFF" and "tif" or "jpg"
    local folder = destinationFolder(self.session)
    local stem = LrPathUtils.removeExtension(LrPathUtils.leafName(self.photo.path))
    local longEdge = s.LR_size_doConstrain and math.max(tonumber(s.LR_size_maxWidth) or 0,
                                                        tonumber(s.LR_size_maxHeight) or 0) or 0
    local ok, result = py.render(self.photo.path, folder, stem, ext, tonumber(s.LR_export_bitDepth) or 8,
                                 longEdge, tonumber(s.LR_jpeg_quality) or 0.8)
    self.rendered = { ok, result }
    if ok then self.destinationPath = result end
    coroutine.yield(py.now())   -- rendering takes time in Lightroom; let other tasks run
  end
  return self.rendered[1], self.rendered[2]
end

function Rendition:skipRender() self.wasSkipped = true end

function Rendition:uploadFailed(message)
  self.failed = tostring(message or "failed")
end

function Rendition:recordPublishedPhotoId(id)
  if not self.session.publish then error("recordPublishedPhotoId: this export is not a publish", 2) end
  assert(id ~= nil, "recordPublishedPhotoId: id must not be nil")
  self.recordedId = id
end

function Rendition:recordPublishedPhotoUrl(url)
  if not self.session.publish then error("recordPublishedPhotoUrl: this export is not a publish", 2) end
  if self.recordedId == nil then
    error("recordPublishedPhotoUrl: call recordPublishedPhotoId first", 2)
  end
  self.recordedUrl = url
end

---------------------------------------------------------------------------
-- Running the plug-in's provider on a session.

local function newExportContext(session, propertyTable)
  local ctx = { exportSession = session, propertyTable = propertyTable }
  if session.publish then
    ctx.publishService = session.publish.service
    ctx.publishedCollection = session.publish.collection
    ctx.publishedCollectionInfo = { name = session.publish.collection.name, isDefaultCollection = false }
  end
  function ctx:configureProgress(args)
    local scope = Fake.newProgressScope(args)
    session.progress = scope
    Fake.exportProgress = scope
    return scope
  end
  function ctx:renditions(params) return session:renditions(params) end
  function ctx:startRendering() end
  return ctx
end

--- Lightroom's run of processRenderedPhotos for a session (on the current task).
-- Errors from the provider become Lightroom's error dialog; uploadFailed
-- renditions are listed in one dialog at the end.
function Fake.runProvider(session)
  local provider = Fake.provider()
  local props = Fake.makePropertyTable(Fake.exportDefaults())
  for k, v in pairs(session.settings) do props[k] = v end
  if provider.updateExportSettings then provider.updateExportSettings(props) end
  session.settings = props:_data()
  local exportContext = newExportContext(session, props)
  Fake.lastExportContext = exportContext
  local ok, err = Fake.modules.LrTasks.pcall(function()
    Fake.modules.LrFunctionContext.callWithContext("export", function(context)
      provider.processRenderedPhotos(context, exportContext)
    end)
  end)
  if not ok then Fake.showErrorDialog(err, "processRenderedPhotos") end
  local failures = {}
  for _, r in ipairs(session.renditionList) do
    if r.failed then failures[#failures + 1] = Fake.modules.LrPathUtils.leafName(r.photo.path) .. ": " .. r.failed end
  end
  if #failures > 0 then
    Fake.dialogs[#Fake.dialogs + 1] = { kind = "exportFailures", message = "Some photos could not be published",
                                        info = table.concat(failures, "\n") }
  end
  return session
end

--- An export of `photos` through the plug-in's service, as from the Export
-- dialog with `settings` (a preset's values and/or the user's choices).
function Fake.startExport(photos, settings)
  local merged = Fake.exportDefaults()
  for k, v in pairs(settings or {}) do merged[k] = v end
  local session = newSession(photos, merged)
  Fake.modules.LrTasks.startAsyncTask(function() Fake.runProvider(session) end, "export")
  return session
end

--- Publish: deletions first (deletePhotosFromPublishedCollection), then new
-- and modified photos, then Lightroom's bookkeeping of what got published.
function Fake.startPublish(collection)
  local service = collection.service
  local provider = Fake.provider()
  local photos = collection:_toPublish()
  local remoteIds = {}
  for _, photo in ipairs(photos) do remoteIds[photo] = collection.entries[photo].remoteId end
  Fake.modules.LrTasks.startAsyncTask(function()
    if #collection.pendingDeletes > 0 then
      local ids = { unpack(collection.pendingDeletes) }
      provider.deletePhotosFromPublishedCollection(service.settings, ids, function(id)
        for i, pending in ipairs(collection.pendingDeletes) do
          if pending == id then table.remove(collection.pendingDeletes, i) break end
        end
      end)
    end
    if #photos == 0 then return end
    local settings = {}
    for k, v in pairs(service.settings) do settings[k] = v end
    local session = newSession(photos, settings, { service = service, collection = collection, remoteIds = remoteIds })
    Fake.runProvider(session)
    for _, r in ipairs(session.renditionList) do
      local e = collection.entries[r.photo]
      if e and r.recordedId ~= nil and not r.failed then
        e.remoteId, e.remoteUrl, e.edited = r.recordedId, r.recordedUrl, false
      end
    end
    Fake.lastPublishSession = session
  end, "publish")
end

Fake.modules.LrExportSession = LrExportSession
