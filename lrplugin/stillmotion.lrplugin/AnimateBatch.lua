--[[
AnimateBatch.lua: one export's (or publish's) jobs on the daemon.

Each rendered photo is submitted as soon as Lightroom has rendered it, so the
daemon works while Lightroom renders the next one; jobs are then polled until
every one has finished. Progress (per photo and overall) goes to one
LrProgressScope; cancelling it cancels (DELETE) every unfinished job.
Finished clips are added to the catalog, stacked above their photo.
Errors are collected per photo, never raised, so one bad photo does not stop
the others; `errors()` lists them for the one report at the end.
]]

local LrDate = import "LrDate"
local LrFileUtils = import "LrFileUtils"
local LrPathUtils = import "LrPathUtils"
local LrTasks = import "LrTasks"
local LrUUID = import "LrUUID"

local AnimateSettings = require "AnimateSettings"
local Fields = require "MetadataFields"
local JSON = require "JSON"
local StillmotionAPI = require "StillmotionAPI"

local AnimateBatch = {}
AnimateBatch.__index = AnimateBatch

AnimateBatch.POLL_SECONDS = 0.5
-- Jobs asked about per poll: the first unfinished ones, in submission order. The daemon runs
-- a batch's jobs about in that order, one or two at a time; asking about every job on every
-- poll made a 500-photo batch send ~125,000 status calls while Lightroom was still rendering.
AnimateBatch.POLL_WINDOW = 4
-- Failed status calls in a row (the daemon answering 500, or an answer that is not JSON)
-- before a job counts as failed: a daemon that answers but cannot say must not keep the
-- export polling for ever.
AnimateBatch.MAX_POLL_ERRORS = 20
-- How long a batch waits for a daemon that stopped answering to answer again before it gives
-- up on the jobs it sent: a service manager restarts a daemon that crashed within seconds
-- (launchd after up to 10), and its job store keeps the batch's jobs, under the same ids.
AnimateBatch.RECONNECT_SECONDS = 30
AnimateBatch.RECONNECT_POLL_SECONDS = 1
local UPLOAD_SHARE = 0.05   -- share of a photo's progress bar for render + upload

local FINISHED = { done = true, failed = true, canceled = true }

--- opts = { client, catalog, props, progress (LrProgressScope), total }
function AnimateBatch.new(opts)
  return setmetatable({
    client = opts.client,
    catalog = opts.catalog,
    props = opts.props,
    progress = opts.progress,
    total = math.max(opts.total or 1, 1),
    items = {},
    aborted = nil,     -- the message when the daemon went away mid-batch
  }, AnimateBatch)
end

--- The photo's name in reports: its file name, and for a virtual copy its copy name too
-- (a master and its copies share one file name).
function AnimateBatch.photoName(photo)
  local name = photo:getFormattedMetadata("fileName") or LrPathUtils.leafName(photo:getRawMetadata("path"))
  local copyName = photo:getFormattedMetadata("copyName")
  if type(copyName) == "string" and copyName ~= "" then name = name .. " (" .. copyName .. ")" end
  return name
end
local photoName = AnimateBatch.photoName

function AnimateBatch:_add(photo, rendition)
  local item = { photo = photo, rendition = rendition, name = photoName(photo),
                 state = "new", fraction = 0, clips = {} }
  self.items[#self.items + 1] = item
  return item
end

function AnimateBatch:_fail(item, message)
  item.state = "failed"
  item.error = message or "the job failed without a message"
  item.fraction = 1
end

-- What the report says of a photo whose job the daemon had accepted when it went away: the
-- daemon keeps its queue on disk and runs those jobs when it starts again, so "start it, then
-- try again" would make each of these clips twice.
AnimateBatch.SENT_BEFORE_STOP = "sent before the daemon stopped: it still makes this clip when it starts "
  .. "again, beside the photo (not added to the catalog), so there is no need to export it again."

-- The daemon went away: every job still being followed fails with SENT_BEFORE_STOP, and
-- photos not yet submitted are not sent (they fail with `message`).
function AnimateBatch:_abort(message)
  self.aborted = message
  for _, item in ipairs(self.items) do
    if item.state == "submitted" then self:_fail(item, AnimateBatch.SENT_BEFORE_STOP) end
  end
end

-- An original that is missing or offline (a drive not connected; Lightroom may still render
-- it from a smart preview): its clip has nowhere to go, since clips go beside their original.
AnimateBatch.ORIGINAL_MISSING = "the original could not be found (missing, or on a drive that is not connected); "
  .. "the clip goes beside it, so reconnect it and export again."

-- A video in an export or a published collection: Lightroom's renderer would hand the daemon a
-- video (or fail), at every Publish, and the report would not say why.
AnimateBatch.IS_VIDEO = "a video: Stillmotion animates photos only; leave it out of the export, "
  .. "or remove it from the published collection."

--- True when the photo's original file is not on disk: such a photo is not rendered or sent.
function AnimateBatch.originalMissing(photo)
  return LrFileUtils.exists(photo:getRawMetadata("path")) ~= "file"
end

--- Records a photo Lightroom could not render.
function AnimateBatch:renderFailed(photo, rendition, message)
  self:_fail(self:_add(photo, rendition), message or "Lightroom could not render the photo.")
  self:_showProgress()
end

-- The Idempotency-Key of one submission (a photo and its variants, in this export):
-- the client resends it when an answer is lost, and the daemon then returns the job it
-- already made instead of a second clip. Fresh for every export, so exporting the same
-- photo again (or republishing it) does make a new clip.
local function submissionKey(photo)
  return "lightroom-" .. tostring(photo.localIdentifier) .. "-" .. LrUUID.generateUUID()
end

-- What a submission asks of the daemon besides the render, as one text: equal texts, equal clips.
local function requestText(develop, settings)
  return JSON.encode(develop) .. "\n" .. JSON.encode(JSON.object(settings))
end

--- The requestText a photo would be submitted with now.
function AnimateBatch:requestText(photo)
  return requestText(AnimateSettings.develop(photo), AnimateSettings.request(self.props, photo))
end

--- Submits a rendered photo. Returns the item (state "submitted" or "failed").
function AnimateBatch:submit(photo, renderedPath, rendition)
  local item = self:_add(photo, rendition)
  if self.aborted then
    self:_fail(item, self.aborted)
    return item
  end
  local develop, settings = AnimateSettings.develop(photo), AnimateSettings.request(self.props, photo)
  item.sent = requestText(develop, settings)
  local submission = {
    imagePath = renderedPath,
    originalPath = photo:getRawMetadata("path"),
    develop = develop,
    settings = settings,
    idempotencyKey = submissionKey(photo),
  }
  local job, err = self.client:submitJob(submission)
  -- A daemon restarting: sent again once it answers (the same key, so never two clips).
  if not job and StillmotionAPI.isUnreachable(err) and self:_daemonAnswers() then
    job, err = self.client:submitJob(submission)
  end
  -- The rendered copy was uploaded (or refused): it is not needed any more.
  LrFileUtils.delete(renderedPath)
  if not job then
    local message = StillmotionAPI.describe(err)
    if StillmotionAPI.isUnreachable(err) then self:_abort(message) end
    -- The daemon names the uploaded file; the report already names the photo.
    local prefix = LrPathUtils.leafName(renderedPath) .. ": "
    if message:sub(1, #prefix) == prefix then message = message:sub(#prefix + 1) end
    self:_fail(item, message)
  else
    item.jobId = job.id
    item.state = "submitted"
    item.fraction = UPLOAD_SHARE
  end
  self:_showProgress(item)
  return item
end

--- Follows a job an earlier export sent (`sent`: its requestText) as if just submitted.
function AnimateBatch:follow(photo, rendition, jobId, sent)
  local item = self:_add(photo, rendition)
  item.jobId, item.sent, item.state, item.fraction = jobId, sent, "submitted", UPLOAD_SHARE
  self:_showProgress(item)
  return item
end

--- Records a photo whose job an earlier export sent, when the daemon cannot be asked about it
-- now: it fails with SENT_BEFORE_STOP (that job may still make its clip), and is not sent again.
function AnimateBatch:sentBeforeStop(photo, rendition, jobId, sent)
  local item = self:follow(photo, rendition, jobId, sent)
  self:_fail(item, AnimateBatch.SENT_BEFORE_STOP)
  self:_showProgress(item)
  return item
end

-- Clip paths from a finished job's "outputs" (paths, or objects with a path),
-- without the XMP sidecars the daemon writes beside each clip.
local function clipPaths(job)
  local paths = {}
  for _, out in ipairs(type(job.outputs) == "table" and job.outputs or {}) do
    local path = type(out) == "table" and (out.path or out.video) or out
    if type(path) == "string" and path ~= "" and (LrPathUtils.extension(path) or ""):lower() ~= "xmp" then
      paths[#paths + 1] = path
    end
  end
  return paths
end

-- What the daemon set aside: a develop value it could not use while reading the photo's
-- settings, a prompt the engine cannot follow. The clip was made without it, and the
-- photographer should know which.
local function settingsNotUsed(job)
  local info = type(job.info) == "table" and job.info or {}
  local out = {}
  for _, key in ipairs({ "metadata_warnings", "notes" }) do
    for _, w in ipairs(type(info[key]) == "table" and info[key] or {}) do
      if type(w) == "string" and w ~= "" then out[#out + 1] = w end
    end
  end
  return out
end

local function jobError(job)
  local e = job.error
  if type(e) == "table" and (e.message or e.code) then return tostring(e.message or e.code) end
  if type(e) == "string" and e ~= "" then return e end
  return "the job failed without a message"
end

function AnimateBatch:_finish(item, job)
  local clips = clipPaths(job)
  -- A job cancelled between its variants lists the clips it had finished: kept like any other.
  if job.status == "done" or (job.status == "canceled" and #clips > 0) then
    item.clips = clips
    if #item.clips == 0 then
      self:_fail(item, "the daemon finished but reported no clip")
      return
    end
    item.state = "done"
    item.fraction = 1
    local ok, err = LrTasks.pcall(function() self:_importClips(item) end)
    local warnings = settingsNotUsed(job)
    if not ok then
      -- The clip exists beside the photo; only the catalog step failed.
      item.warning = "clip made (" .. item.clips[1] .. ") but not added to the catalog: "
                     .. StillmotionAPI.describe(err)
    elseif #warnings > 0 then
      item.warning = "clip made; note: " .. table.concat(warnings, "; ")
    end
  elseif job.status == "canceled" then
    item.state = "canceled"
    item.fraction = 1
  elseif #clips > 0 then
    -- Failed at a later take (a disk that filled at the third of three): the takes made before
    -- it are beside the photo, and go into the catalog as any clip; the failure is still said.
    item.clips = clips
    local ok, err = LrTasks.pcall(function() self:_importClips(item) end)
    local kept = string.format("%d take%s made before it kept beside the photo", #clips, #clips == 1 and "" or "s")
    self:_fail(item, jobError(job) .. " (" .. kept .. (ok and ", added to the catalog)"
                                                       or "; not added to the catalog: " .. StillmotionAPI.describe(err) .. ")"))
  else
    self:_fail(item, jobError(job))
  end
end

-- Adds the clips to the catalog stacked above their photo (MP4 and MOV: Lightroom imports
-- no GIF, and a WebP only as a still) and records the last clip in the photo's "Last clip"
-- field, in one catalog write. Raises when the catalog stays busy (Lightroom or another
-- plug-in writing to it): with a timeout, withWriteAccessDo then returns "aborted".
AnimateBatch.CATALOG_WAIT_SECONDS = 30
AnimateBatch.CATALOG_BUSY = string.format("the catalog stayed busy for %d seconds", AnimateBatch.CATALOG_WAIT_SECONDS)

--- Runs `fn` with write access to `catalog`, as the undoable step `actionName` (nil: a private
--- write, as the readiness fields are), waiting at most CATALOG_WAIT_SECONDS while the catalog
--- is busy; then raises CATALOG_BUSY. Whatever `fn` raises comes through.
function AnimateBatch.writeCatalog(catalog, actionName, fn)
  local options = { timeout = AnimateBatch.CATALOG_WAIT_SECONDS }
  local result
  if actionName then
    result = catalog:withWriteAccessDo(actionName, fn, options)
  else
    result = catalog:withPrivateWriteAccessDo(fn, options)
  end
  if result == "aborted" then
    error(AnimateBatch.CATALOG_BUSY, 0)
  end
end

-- What a new clip is stacked above: the top of the photo's stack when its last clip is in
-- it, so that a clip made again (a republish after an edit) goes on top of the ones it replaces
-- (a collapsed stack shows its top; above the last clip, the last of several variants, it went
-- under the first); else the photo itself.
local function stackAnchor(catalog, photo)
  local last = Fields.get(photo, Fields.LAST_CLIP)
  local lastPhoto = last and catalog:findPhotoByPath(last)
  local top = photo:getRawMetadata("isInStackInFolder") and photo:getRawMetadata("topOfStackInFolderContainingPhoto")
  if lastPhoto and top and lastPhoto:getRawMetadata("topOfStackInFolderContainingPhoto") == top then
    return top
  end
  return photo
end

function AnimateBatch:_importClips(item)
  local importing = self.props.sm_importToCatalog ~= false
  local catalog = self.catalog
  AnimateBatch.writeCatalog(catalog, "Add Stillmotion clips", function()
    if importing then
      local anchor = stackAnchor(catalog, item.photo)
      for _, clip in ipairs(item.clips) do
        if AnimateSettings.IMPORTED_FORMATS[(LrPathUtils.extension(clip) or ""):lower()]
            and not catalog:findPhotoByPath(clip) then
          item.clipPhotos = item.clipPhotos or {}
          item.clipPhotos[#item.clipPhotos + 1] = catalog:addPhoto(clip, anchor, "above")
        end
      end
    end
    item.photo:setPropertyForPlugin(_PLUGIN, Fields.LAST_CLIP, item.clips[#item.clips])
  end)
end

--- One pass over the first unfinished jobs (POLL_WINDOW): status, progress, finishing.
-- The caption names the photo rendering (else the first still waiting): captioned one after
-- the other, the window's last job was the one left showing, "queued 5%" while another rendered.
function AnimateBatch:poll()
  local asked, shown = 0, nil
  for _, item in ipairs(self.items) do
    if asked >= AnimateBatch.POLL_WINDOW or self.aborted then break end
    if item.state == "submitted" then
      asked = asked + 1
      self:_pollOne(item)
      if shown == nil or (shown.stage == "queued" and item.state == "submitted" and item.stage ~= "queued") then
        shown = item
      end
    end
  end
  self:_showProgress(shown)
end

-- True when the daemon answers its health check, waiting up to RECONNECT_SECONDS for it to
-- come back (not when the user cancels).
function AnimateBatch:_daemonAnswers()
  local deadline = LrDate.currentTime() + AnimateBatch.RECONNECT_SECONDS
  while not self.client:health() do
    if LrDate.currentTime() >= deadline or self.progress:isCanceled() then return false end
    self.progress:setCaption("The Stillmotion daemon stopped answering: waiting for it to start again...")
    LrTasks.sleep(AnimateBatch.RECONNECT_POLL_SECONDS)
  end
  return true
end

function AnimateBatch:_pollOne(item)
  local job, err = self.client:job(item.jobId)
  if job then
    item.pollErrors = 0
    item.stage = job.stage or job.status
    item.eta, item.queuePosition = tonumber(job.eta), tonumber(job.queue_position)
    local p = tonumber(job.progress) or 0
    item.fraction = UPLOAD_SHARE + (1 - UPLOAD_SHARE) * math.min(math.max(p, 0), 1)
    if FINISHED[job.status] then self:_finish(item, job) end
    return
  end
  if err.status == 404 then
    self:_fail(item, "the daemon no longer knows this job (was it restarted?)")
    return
  end
  -- No answer: gone, or only slow (a status call timed out while the daemon is busy)?
  -- (Restarted, the daemon knows the job under the same id: the next poll asks again.)
  if StillmotionAPI.isUnreachable(err) and not self:_daemonAnswers() then
    self:_abort(StillmotionAPI.describe(err))
    return
  end
  item.pollErrors = (item.pollErrors or 0) + 1
  if item.pollErrors >= AnimateBatch.MAX_POLL_ERRORS then
    self:_fail(item, "the daemon did not say how the job went (" .. StillmotionAPI.describe(err)
                     .. "); its clip may still appear beside the photo")
  end
end

function AnimateBatch:pending()
  local n = 0
  for _, item in ipairs(self.items) do
    if item.state == "submitted" then n = n + 1 end
  end
  return n
end

--- Polls until every job has finished, or the user cancels (then cancels them).
function AnimateBatch:waitAll()
  while self:pending() > 0 do
    if self.progress:isCanceled() then
      self:cancelAll()
      return
    end
    LrTasks.sleep(AnimateBatch.POLL_SECONDS)
    self:poll()
  end
end

--- Cancels every unfinished job on the daemon (DELETE /v1/jobs/{id}); finished ones are kept.
function AnimateBatch:cancelAll()
  for _, item in ipairs(self.items) do
    if item.state == "submitted" then
      -- The daemon answers with the job as it now is: one that finished before the cancel
      -- reached it (or a variant or two of it) has clips, which are kept like any other.
      local job = self.client:cancelJob(item.jobId)
      if job and (job.status == "done" or job.status == "canceled") then
        self:_finish(item, job)
      else
        item.state = "canceled"
      end
    end
  end
end

function AnimateBatch:_showProgress(current)
  local sum, finished = 0, 0
  for _, item in ipairs(self.items) do
    sum = sum + item.fraction
    if item.state ~= "submitted" then finished = finished + 1 end
  end
  self.progress:setPortionComplete(sum, self.total)
  if current then
    local pct = math.floor(current.fraction * 100 + 0.5)
    self.progress:setCaption(string.format("%s: %s %d%%%s (%d of %d finished)", current.name,
      current.stage or current.state, pct, AnimateBatch._wait(current), finished, self.total))
  end
end

--- What the daemon says of a job's wait: its time left while it renders, its place in the queue before.
function AnimateBatch._wait(item)
  if item.state ~= "submitted" then return "" end
  if item.stage == "queued" and item.queuePosition then
    return string.format(", %d in the queue before it", item.queuePosition - 1)
  end
  if item.eta and item.stage ~= "queued" then
    local s = math.floor(item.eta + 0.5)
    if s < 90 then return string.format(", %d s left", s) end
    return string.format(", %d min left", math.floor(s / 60 + 0.5))
  end
  return ""
end

--- Items that finished with clips.
function AnimateBatch:succeeded()
  local out = {}
  for _, item in ipairs(self.items) do
    if item.state == "done" then out[#out + 1] = item end
  end
  return out
end

--- { name, message } for every photo that failed (and catalog or settings warnings).
-- A photo's name is given with its folder's when another photo of the batch has the same name
-- (IMG_0001.jpg from two cards, in two folders): the report must say which one.
function AnimateBatch:_reportNames()
  local count = {}
  for _, item in ipairs(self.items) do count[item.name] = (count[item.name] or 0) + 1 end
  local names = {}
  for _, item in ipairs(self.items) do
    local folder = count[item.name] > 1 and item.photo:getFormattedMetadata("folderName")
    names[item] = folder and (item.name .. " in " .. folder) or item.name
  end
  return names
end

function AnimateBatch:errors()
  local out = {}
  local names = self:_reportNames()
  for _, item in ipairs(self.items) do
    if item.state == "failed" then
      out[#out + 1] = { name = names[item], message = item.error, item = item }
    elseif item.warning then
      out[#out + 1] = { name = names[item], message = item.warning, item = item }
    end
  end
  return out
end

-- A message shared by many photos names this many of them, then how many more.
local NAMES_SHOWN = 5

local function photoNames(names)
  if #names <= NAMES_SHOWN + 1 then return table.concat(names, ", ") end
  local shown = {}
  for i = 1, NAMES_SHOWN do shown[i] = names[i] end
  return table.concat(shown, ", ") .. string.format(" and %d more", #names - NAMES_SHOWN)
end

--- The one summary shown at the end: nil when nothing went wrong.
-- Identical messages (a daemon that went away, a prompt no engine here follows) are listed
-- once with their photos: a few named, the rest counted.
function AnimateBatch.summary(errors, total, succeeded)
  if #errors == 0 then return nil end
  local order, byMessage = {}, {}
  for _, e in ipairs(errors) do
    e = { name = e.name, message = tostring(e.message) }
    if not byMessage[e.message] then
      byMessage[e.message] = {}
      order[#order + 1] = e.message
    end
    table.insert(byMessage[e.message], e.name)
  end
  local lines = {}
  for _, message in ipairs(order) do
    lines[#lines + 1] = photoNames(byMessage[message]) .. ": " .. message
  end
  local title = string.format("Animated %d of %d photos. Some need attention:", succeeded, total)
  return title, table.concat(lines, "\n")
end

return AnimateBatch
