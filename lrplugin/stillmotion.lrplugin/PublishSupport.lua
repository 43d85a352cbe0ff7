--[[
PublishSupport.lua: the publish-service half of the Animate provider.

A published collection animates each of its photos once. Lightroom marks a
published photo "Modified Photos to Re-Publish" when its develop settings
change (always) or when a field listed by metadataThatTriggersRepublish
changes: here the per-photo prompt and profile, and the title, caption and
keywords that prompt templates use. The published id of a photo is the path of
its clip(s), one a line; with "Remove clips" on, a photo leaving the
collection (or being republished) moves its old clip to the Trash.

A publish the daemon's stop cut short leaves its photos "to publish", while the
daemon makes their clips once started again: the jobs are remembered (plug-in
prefs), and the next Publish records each such clip instead of making a second.
]]

local LrApplication = import "LrApplication"
local LrFileUtils = import "LrFileUtils"
local LrPathUtils = import "LrPathUtils"
local LrPrefs = import "LrPrefs"

local Fields = require "MetadataFields"
local JSON = require "JSON"

local PublishSupport = {}
local callbacks = {}
PublishSupport.callbacks = callbacks

callbacks.supportsIncrementalPublish = true
callbacks.titleForPublishedCollection = LOC "$$$/Stillmotion/Publish/Collection=Animated collection"
callbacks.titleForPublishedSmartCollection = LOC "$$$/Stillmotion/Publish/SmartCollection=Animated smart collection"
callbacks.titleForGoToPublishedCollection = "disable"
callbacks.titleForGoToPublishedPhoto = "disable"

--- Splits a published id back into clip paths.
function PublishSupport.clipsOf(publishedId)
  local paths = {}
  for line in tostring(publishedId or ""):gmatch("[^\n]+") do paths[#paths + 1] = line end
  return paths
end

--- Moves the clips named by `publishedId` to the Trash with their XMP sidecars, except
-- those in `keep` and those in the catalog (the SDK cannot take a photo out of the catalog:
-- trashed, it would stay there as a missing file; the dialog offers this option only when
-- clips are not imported). Returns the clips that could not be moved.
function PublishSupport.removeClips(publishedId, keep)
  local keepSet = {}
  for _, p in ipairs(keep or {}) do keepSet[p] = true end
  local catalog = LrApplication.activeCatalog()
  local failed = {}
  for _, clip in ipairs(PublishSupport.clipsOf(publishedId)) do
    if not keepSet[clip] and LrFileUtils.exists(clip) and not catalog:findPhotoByPath(clip) then
      if LrFileUtils.moveToTrash(clip) then
        local sidecar = LrPathUtils.replaceExtension(clip, "xmp")
        if LrFileUtils.exists(sidecar) then LrFileUtils.moveToTrash(sidecar) end
      else
        failed[#failed + 1] = clip
      end
    end
  end
  return failed
end

-- What Lightroom lists for a photo whose job the daemon had taken when it stopped.
PublishSupport.SENT_BEFORE_STOP = "sent before the daemon stopped: it still makes this clip when it starts "
  .. "again, and the next Publish records that clip rather than making a second."

local UNFINISHED = "unfinishedPublishes"   -- prefs: JSON { "<collection>/<photo>": { job, sent } }

local function unfinishedKey(collection, photo)
  return tostring(collection.localIdentifier) .. "/" .. tostring(photo.localIdentifier)
end

local function unfinished(prefs)
  local ok, map = pcall(JSON.decode, prefs[UNFINISHED] or "{}")
  return ok and type(map) == "table" and map or {}
end

--- Remembers the job `jobId` a publish of `photo` in `collection` sent (`sent`: the batch's
-- requestText) and could not follow to its end.
function PublishSupport.rememberUnfinished(collection, photo, jobId, sent)
  local prefs = LrPrefs.prefsForPlugin()
  local map = unfinished(prefs)
  map[unfinishedKey(collection, photo)] = { job = jobId, sent = sent }
  prefs[UNFINISHED] = JSON.encode(JSON.object(map))   -- (prefs keep a value set whole, not a table changed in place)
end

-- What the daemon says of a remembered job that the next Publish follows rather than resending.
local FOLLOWABLE = { queued = true, running = true, done = true }

--- The job remembered for `photo` in `collection` that the next Publish follows: its id, when it
-- asked for what `sent` asks (a photo edited since wants a new clip) and `client`'s daemon says it
-- made its clip or is making it. The entry is forgotten once its fate is known (followed now, or
-- another request, or a job the daemon lost, failed or canceled: nil, the photo is sent anew). When
-- the daemon cannot be asked, it is kept and the result is nil, jobId: that job may still make its
-- clip when the daemon starts again, and sending the photo again would make a second.
function PublishSupport.takeUnfinished(client, collection, photo, sent)
  local prefs = LrPrefs.prefsForPlugin()
  local map = unfinished(prefs)
  local key = unfinishedKey(collection, photo)
  local entry = map[key]
  if entry == nil then return nil end
  local jobId = type(entry) == "table" and entry.sent == sent and entry.job or nil
  if jobId ~= nil then
    local job, err = client:job(jobId)
    local gone = type(err) == "table" and err.status == 404
    if not job and not gone then return nil, jobId end
    if not (job and FOLLOWABLE[job.status]) then jobId = nil end
  end
  map[key] = nil
  prefs[UNFINISHED] = JSON.encode(JSON.object(map))
  return jobId
end

function callbacks.getCollectionBehaviorInfo(publishSettings)
  return {
    defaultCollectionName = LOC "$$$/Stillmotion/Publish/Default=Animate",
    defaultCollectionCanBeDeleted = true,
    canAddCollection = true,
    maxCollectionSetDepth = 0,
  }
end

function callbacks.metadataThatTriggersRepublish(publishSettings)
  local keys = {
    default = false,
    title = true,        -- prompt templates use {title}, {caption}, {keywords}
    caption = true,
    keywords = true,
    gps = false,
    dateCreated = false,
  }
  for _, key in ipairs(Fields.republishKeys()) do keys[key] = true end
  return keys
end

--- Photos removed from a published collection: forget them, and trash their
-- clips when the service's "Remove clips" option is on.
function callbacks.deletePhotosFromPublishedCollection(publishSettings, arrayOfPhotoIds, deletedCallback)
  for _, id in ipairs(arrayOfPhotoIds) do
    if publishSettings.sm_removeClips then PublishSupport.removeClips(id) end
    deletedCallback(id)
  end
end

--- A published collection deleted: its clips go too, when asked to.
function callbacks.deletePublishedCollection(publishSettings, info)
  if not publishSettings.sm_removeClips or not info.publishedCollection then return end
  for _, published in ipairs(info.publishedCollection:getPublishedPhotos()) do
    PublishSupport.removeClips(published:getRemoteId())
  end
end

return PublishSupport
