package availability

// The Lua scripts of the Valkey mirror. Each runs atomically and touches only keys passed
// in KEYS, all under one hash tag in cluster mode. Heartbeat strings are compared as
// strings: the fixed-width ISO-8601 UTC format sorts like the time it encodes.

// notSeededReply is the error a script returns when the seed marker is missing.
const notSeededReply = "NOTSEEDED"

// luaISOMillis parses "YYYY-MM-DDTHH:MM:SS.mmmZ" into unix milliseconds (days from civil,
// proleptic Gregorian), or nil. Lua numbers are doubles: exact for these values.
const luaISOMillis = `
local function isoms(s)
  local y, mo, d, h, mi, se, ms = string.match(s, '^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)%.(%d%d%d)Z$')
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(se) * 1000 + tonumber(ms)
end
`

// luaMillisISO formats unix milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" (civil from days,
// proleptic Gregorian): the inverse of isoms.
const luaMillisISO = `
local function msiso(t)
  local days = math.floor(t / 86400000)
  local rem = t - days * 86400000
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  if m <= 2 then y = y + 1 end
  local h = math.floor(rem / 3600000)
  rem = rem - h * 3600000
  local mi = math.floor(rem / 60000)
  rem = rem - mi * 60000
  local se = math.floor(rem / 1000)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, h, mi, se, rem - se * 1000)
end
`

// luaDevices reads and trims a mitra's device leases: the HASH mitra:devices:<id> holds,
// per device d, the field d → "HHHHHHHHHHHHH", the device's last heartbeat, and, while the
// device has an event stream, the field d:s → "SSSSSSSSSSSSS:O", the stream's last contact
// and 1 while it is open (unix ms, 13 digits, zero when none: fixed width, so they compare
// as strings; ':' is no character of a device id). A device's lease is the later of the
// two. A device that signed off while the mitra stays online holds TOMB, zeros in the
// layout before (below), which instances still running that layout during an upgrade
// recognise too; a heartbeat of the device overwrites it, nothing else does. The
// unnamed lease a seed gives a ping only Postgres saw is not in this hash: it is the
// mitra's field of the shared HASH mitras:unnamed_leases (id → ms).
//
// The layout before kept both parts in one field, d → "HHHHHHHHHHHHH:SSSSSSSSSSSSS:O": such
// a value (29 characters, without a d:s field) is read as its heartbeat and its stream
// part, and the next write of the device replaces it.
const luaDevices = `
local ZERO = '0000000000000'
local TOMB = ZERO .. ':' .. ZERO .. ':0'
` + luaEvict + `
local function lease(key, d)
  local r = redis.call('HMGET', key, d, d .. ':s')
  return parthb(r[1], r[2])
end
local function signedoff(hb, sp)
  return hb == ZERO and ((not sp) or string.sub(sp, 1, 13) == ZERO)
end
`

// luaEvict defines parthb (a device's heartbeat field and stream field as its heartbeat
// and stream part, the layout before read too), leaseof (a device's lease, as a number),
// devicesof (a hash's devices) and evict, which drops the devices whose leases end first
// (an open stream's last) until cap are left, never keep's (the device just written). The
// heartbeat script defines them only on the rare path that needs them: a Lua function is
// made anew at every run of the code that defines it.
const luaEvict = `
local function parthb(h, sp)
  if not h then return false, sp end
  if (not sp) and #h == 29 then sp = string.sub(h, 15) end
  return string.sub(h, 1, 13), sp
end
local function leaseof(hb, sp)
  local l = tonumber(hb or '0') or 0
  if sp then
    local st = tonumber(string.sub(sp, 1, 13)) or 0
    if st > l then l = st end
  end
  return l
end
local function devicesof(key)
  local all = redis.call('HGETALL', key)
  local raw, sps, names = {}, {}, {}
  for i = 1, #all, 2 do
    local f = all[i]
    local d = string.match(f, '^(.*):s$')
    if d then sps[d] = all[i + 1] else raw[f] = all[i + 1] end
    local name = d or f
    if names[name] == nil then
      names[name] = true
      names[#names + 1] = name
    end
  end
  local out = {}
  for _, d in ipairs(names) do
    local hb, sp = parthb(raw[d], sps[d])
    out[#out + 1] = {d, hb or ZERO, sp}
  end
  return out
end
local function evict(key, keep, cap)
  local devs = devicesof(key)
  local n = #devs
  if n <= cap then return end
  local c = {}
  for _, x in ipairs(devs) do
    if x[1] ~= keep then
      local rank = leaseof(x[2], x[3])
      if x[3] and string.sub(x[3], 15, 15) == '1' then rank = rank + 1e15 end
      c[#c + 1] = {x[1], rank}
    end
  end
  table.sort(c, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
  end)
  for i = 1, n - cap do redis.call('HDEL', key, c[i][1], c[i][1] .. ':s') end
end
`

// heartbeatScript: the hot path, one round trip, five commands for an online mitra: the
// marker check, the index, the string, the available index and the device's heartbeat.
// KEYS: marker, deactivated, heartbeat:<id>, heartbeat index, available index,
// devices:<id>. ARGV: id, iso, ms (13 digits), device, max devices.
// Returns -1 (deactivated), 0 (not online: nothing written) or 1 (online: recorded).
//
// It leans on two facts every script keeps: the heartbeat index holds exactly the online
// mitras (mitras:online), and its score is never behind the heartbeat string nor any of
// the mitra's leases. So one ZADD XX GT CH both checks that the mitra is online and tells
// whether this ping is newer: only then is the string written (it never moves back), the
// available index moved (XX: an online mitra is in it exactly when it is under capacity)
// and the device's heartbeat field written, unread: the ping is newer than the mitra's
// heartbeat, hence than every lease. The deactivated set is read only for a mitra that is
// not online (a deactivated mitra is never online). A ping that is not newer than the
// mitra's (another device's, or another instance's clock ahead) reads the device's field
// and moves it forward only. A new field is a new device: beyond the maximum, it evicts
// the lease that ends first (HLEN counts stream fields too, so it only tells when to look).
const heartbeatScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
if redis.call('ZADD', KEYS[4], 'XX', 'GT', 'CH', ARGV[3], ARGV[1]) == 1 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[5], 'XX', 'GT', ARGV[3], ARGV[1])
else
  if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then
    if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
    return 0
  end
  local v = redis.call('HGET', KEYS[6], ARGV[4])
  if v and string.sub(v, 1, 13) >= ARGV[3] then return 1 end
end
if redis.call('HSET', KEYS[6], ARGV[4], ARGV[3]) == 1 and redis.call('HLEN', KEYS[6]) > tonumber(ARGV[5]) then
  local ZERO = '0000000000000'
` + luaEvict + `
  evict(KEYS[6], ARGV[4], tonumber(ARGV[5]))
end
return 1
`

// streamScript writes one event stream's lease: the stream's contact at ARGV[3] is a ping
// of the mitra, and the device's stream part becomes that contact (never moved back) with
// the stream open (ARGV[5] = '1', a refresh, which creates the device's lease if it has
// none — after a data loss, say) or closed ('0': its reconnect grace begins). A device
// that signed off keeps its empty lease while the mitra is online: its stream, left open
// for the events of a chat, does not bring it back.
// KEYS as heartbeatScript. ARGV: id, iso, ms (13 digits), device, '1' or '0', max devices.
// Returns {-1} (deactivated), {0} (not online), {3} (the device signed off, or a close of
// a device without a lease): nothing written; or {1, stream part}: the "SSSSSSSSSSSSS:O"
// written, which the end of a grace checks is still there.
const streamScript = luaDevices + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
if not redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {-1} end
  return {0}
end
local hb, sp = lease(KEYS[6], ARGV[4])
if (hb and signedoff(hb, sp)) or ((not hb) and (not sp) and ARGV[5] == '0') then return {3} end
if redis.call('ZADD', KEYS[4], 'XX', 'GT', 'CH', ARGV[3], ARGV[1]) == 1 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[5], 'XX', 'GT', ARGV[3], ARGV[1])
end
local st = ARGV[3]
if sp and string.sub(sp, 1, 13) > st then st = string.sub(sp, 1, 13) end
local part = st .. ':' .. ARGV[5]
if hb then
  redis.call('HSET', KEYS[6], ARGV[4], hb, ARGV[4] .. ':s', part)
else
  redis.call('HSET', KEYS[6], ARGV[4], ZERO, ARGV[4] .. ':s', part)
  if redis.call('HLEN', KEYS[6]) > tonumber(ARGV[6]) then evict(KEYS[6], ARGV[4], tonumber(ARGV[6])) end
end
return {1, part}
`

// endDeviceScript ends a device's lease (ARGV[3] empty: the device signed off, and keeps
// an empty lease), or only its stream's (ARGV[3] is the stream part a close wrote: the
// grace passed; if the part changed, a stream of the device refreshed it since, and
// nothing ends; the device's own heartbeat stays if it is fresh, else the device goes).
// KEYS: marker, heartbeat:<id>, heartbeat index, available index, devices:<id>, unnamed
// leases. ARGV: id, device, stream part or "", fresh-after ms, max devices (an empty
// lease beyond it is not kept).
// Returns {0} (not online), {2} (reconnected: nothing ended), {-1} (no live lease left:
// the caller sets the mitra offline, Postgres first) or {1, heartbeat ms}.
// The mitra's heartbeat is its freshest lease: when the lease that ended was it, the
// heartbeat, the index and the available index move back to the freshest lease left (XX,
// not GT). When the heartbeat was fresher than every lease — pings the mirror holds per
// mitra only: rebuilt from Postgres by a seed, or a ping that fell back to Postgres — it
// is some device's that the mirror cannot name, and it stands until it goes stale. The
// unnamed lease ends only when named (UnnamedDevice).
const endDeviceScript = luaMillisISO + luaDevices + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
local cur = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not cur then return {0} end
cur = tonumber(cur)
local fresh = tonumber(ARGV[4])
local devs = devicesof(KEYS[5])
local me
for _, x in ipairs(devs) do
  if x[1] == ARGV[2] then me = x end
end
if ARGV[3] ~= '' and ((not me) or me[3] ~= ARGV[3]) then return {2} end
local before, after = 0, 0
for _, x in ipairs(devs) do
  local l = leaseof(x[2], x[3])
  if l > before then before = l end
  if x[1] ~= ARGV[2] and l > after then after = l end
end
local un = tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0') or 0
if un > before then before = un end
if ARGV[2] ~= '*' and un > after then after = un end
if ARGV[2] == '*' then
  redis.call('HDEL', KEYS[6], ARGV[1])
  redis.call('HDEL', KEYS[5], ARGV[2], ARGV[2] .. ':s')
elseif ARGV[3] == '' then
  if me or #devs < tonumber(ARGV[5]) then redis.call('HSET', KEYS[5], ARGV[2], TOMB) end
  redis.call('HDEL', KEYS[5], ARGV[2] .. ':s')
elseif me then
  if tonumber(me[2]) < fresh then
    redis.call('HDEL', KEYS[5], ARGV[2], ARGV[2] .. ':s')
  else
    redis.call('HSET', KEYS[5], ARGV[2], me[2])
    redis.call('HDEL', KEYS[5], ARGV[2] .. ':s')
    if tonumber(me[2]) > after then after = tonumber(me[2]) end
  end
end
if cur > before then after = cur end
if after < fresh or after == 0 then return {-1} end
if after < cur then
  redis.call('ZADD', KEYS[3], 'XX', after, ARGV[1])
  redis.call('ZADD', KEYS[4], 'XX', after, ARGV[1])
  redis.call('SET', KEYS[2], msiso(after))
end
return {1, after}
`

// applyScript writes the mirror of one mitra as Postgres implies it.
// KEYS: online, deactivated, at-capacity, heartbeat index, heartbeat:<id>, capacity:<id>,
// journal, available index, available sequence, available changes, devices:<id>, unnamed
// leases. ARGV: id, active
// (0/1), online (0/1), Postgres heartbeat iso or "", capacity, at capacity (0/1), now ms,
// journal retention ms.
// A mitra entering or leaving the available index is logged in the available changes
// (mitra → sequence number of its last change), which the process-memory copies of the
// index follow. A mitra that is not online loses its device leases, the unnamed one
// included; an online one keeps them (they are Valkey's alone: Postgres knows no devices).
const applyScript = luaISOMillis + `
local id = ARGV[1]
local listed = false
if ARGV[2] == '0' then
  redis.call('SADD', KEYS[2], id)
  redis.call('SREM', KEYS[1], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', KEYS[5], KEYS[11])
  redis.call('HDEL', KEYS[12], id)
else
  redis.call('SREM', KEYS[2], id)
  if ARGV[3] == '1' then
    redis.call('SADD', KEYS[1], id)
    local cur = redis.call('GET', KEYS[5])
    if ARGV[4] ~= '' and ((not cur) or cur < ARGV[4]) then
      redis.call('SET', KEYS[5], ARGV[4])
      cur = ARGV[4]
    end
    local ms = 0
    if cur then ms = isoms(cur) or 0 end
    redis.call('ZADD', KEYS[4], 'GT', ms, id)
    listed = true
  else
    redis.call('SREM', KEYS[1], id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('DEL', KEYS[5], KEYS[11])
    redis.call('HDEL', KEYS[12], id)
  end
end
redis.call('SET', KEYS[6], ARGV[5])
local full = ARGV[6] == '1'
if full then redis.call('SADD', KEYS[3], id) else redis.call('SREM', KEYS[3], id) end
local moved
if listed and not full then
  moved = redis.call('ZADD', KEYS[8], redis.call('ZSCORE', KEYS[4], id), id)
else
  moved = redis.call('ZREM', KEYS[8], id)
end
if moved == 1 then redis.call('ZADD', KEYS[10], redis.call('INCR', KEYS[9]), id) end
local now = tonumber(ARGV[7])
redis.call('ZADD', KEYS[7], now, id)
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', '(' .. string.format('%d', now - tonumber(ARGV[8])))
return 1
`

// seedChunkScript writes the part of one chunk of a seed that depends on what Valkey
// holds: the online mitras' scores in the temporary heartbeat and available indexes (built
// aside), their heartbeats moved forward in place, and their unnamed leases. Everything
// else of a chunk — the temporary sets, the capacities, the keys of the mitras that are not
// online — is plain commands beside it (Replace), which cost Valkey less than the same
// writes made from Lua. Each kind of write of the whole chunk is one variadic command
// (ZMSCORE, MGET, ZADD, MSET, HSET), so that a row costs a few microseconds of server time
// rather than a command each.
// KEYS: tmp heartbeat index, tmp available index, live heartbeat index, unnamed leases,
// then heartbeat:<id> per row. ARGV: ttl seconds of the temporary keys, then per row (an
// online mitra) id, at capacity ('1' or '0'), Postgres heartbeat iso or "", the same in
// unix ms (13 digits) or "".
// When Postgres holds a fresher heartbeat than Valkey (after a data loss, or pings that
// fell back to Postgres) that ping gets the unnamed lease: some device sent it, which the
// mirror cannot name (Postgres knows no devices). The score of a heartbeat that Valkey
// holds is read from the live index (the same ms as the string), or parsed from the
// string if the index lacks it. The string itself is read only where the live index does
// not settle the row: a positive live score at or after Postgres's heartbeat keeps the
// heartbeat Valkey holds (every script that writes a positive score writes the string,
// every one that deletes the string drops the member), so a reseed reads the strings of
// the mitras that pinged only through Postgres, not all.
const seedChunkScript = luaISOMillis + `
local rows = (#ARGV - 1) / 4
if rows == 0 then return 0 end
local ids = {}
for i = 1, rows do ids[i] = ARGV[i * 4 - 2] end
local live = redis.call('ZMSCORE', KEYS[3], unpack(ids))
local settled, need, at, cur = {}, {}, {}, {}
for i = 1, rows do
  local s, pgms = live[i], ARGV[i * 4 + 1]
  if s and tonumber(s) > 0 and (pgms == '' or tonumber(pgms) <= tonumber(s)) then
    settled[i] = true
  else
    need[#need + 1] = KEYS[4 + i]
    at[#at + 1] = i
  end
end
if #need > 0 then
  local got = redis.call('MGET', unpack(need))
  for k, i in ipairs(at) do cur[i] = got[k] end
end
local idx, avail, hbset, unnamed = {}, {}, {}, {}
for i = 1, rows do
  local b = i * 4 - 2
  local pg, c, score = ARGV[b + 2], cur[i], 0
  if settled[i] then
    score = live[i]
  elseif pg ~= '' and ((not c) or c < pg) then
    hbset[#hbset + 1] = KEYS[4 + i]
    hbset[#hbset + 1] = pg
    score = ARGV[b + 3]
    unnamed[#unnamed + 1] = ids[i]
    unnamed[#unnamed + 1] = score
  elseif c then
    score = live[i] or isoms(c) or 0
  end
  idx[#idx + 1] = score
  idx[#idx + 1] = ids[i]
  if ARGV[b + 1] ~= '1' then
    avail[#avail + 1] = score
    avail[#avail + 1] = ids[i]
  end
end
redis.call('ZADD', KEYS[1], unpack(idx))
if #avail > 0 then redis.call('ZADD', KEYS[2], unpack(avail)) end
if #hbset > 0 then redis.call('MSET', unpack(hbset)) end
if #unnamed > 0 then redis.call('HSET', KEYS[4], unpack(unnamed)) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if #avail > 0 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return rows
`

// seedSwapScript swaps the temporary sets and indexes in, atomically and in O(1) per key
// (an old value is freed in the background by UNLINK). The old heartbeat index is kept
// under its trash name, expiring, for the pings it received while the seed was building:
// the caller merges them into the new indexes afterwards, in chunks (a merge here would
// hold Valkey for as long as there were pings to merge).
// KEYS: live online, deactivated, at-capacity, heartbeat index, available index (1-5); the
// temporary ones (6-10); trash names (11-15); marker, snapshot, journal, available changes
// (16-19).
// ARGV: since ms (journal), marker value (JSON), seed time (for recovered_at), ttl seconds
// of the kept heartbeat index.
// The marker gets recovered_at: the seed time when there was no marker (the data was
// lost), else the previous marker's recovered_at if any. The available changes are
// dropped: the new marker (every seed's is unique) makes every process-memory copy of the
// available index reload.
// Returns the ids in the journal since ARGV[1].
const seedSwapScript = `
for j = 1, 5 do
  local live, tmp, trash = KEYS[j], KEYS[5 + j], KEYS[10 + j]
  if redis.call('EXISTS', tmp) == 1 then
    if redis.call('EXISTS', live) == 1 then
      redis.call('RENAME', live, trash)
      if j == 4 then
        redis.call('EXPIRE', trash, ARGV[4])
      else
        redis.call('UNLINK', trash)
      end
    end
    redis.call('RENAME', tmp, live)
    redis.call('PERSIST', live)
  else
    redis.call('UNLINK', live)
  end
end
local marker, old, rec = ARGV[2], redis.call('GET', KEYS[16]), nil
if not old then
  rec = ARGV[3]
else
  local ok, o = pcall(cjson.decode, old)
  if ok and type(o) == 'table' and type(o.recovered_at) == 'string' then rec = o.recovered_at end
end
if rec then
  local ok, m = pcall(cjson.decode, marker)
  if ok then
    m.recovered_at = rec
    marker = cjson.encode(m)
  end
end
redis.call('SET', KEYS[16], marker)
redis.call('DEL', KEYS[17])
redis.call('UNLINK', KEYS[19])
return redis.call('ZRANGE', KEYS[18], ARGV[1], '+inf', 'BYSCORE')
`

// windowsScript splits the part of the available index at or above a score (a fresh-after
// time, or -inf for all of it) into windows of about `chunk` members, so that listing them
// is a pipeline of small commands whose number does not depend on how many mitras are
// online.
// KEYS: marker, available index, available sequence. ARGV: min score, chunk.
// Returns {count, {boundary score, ...}, marker, sequence} (boundaries ascending, at every
// chunk-th rank).
const windowsScript = `
local m = redis.call('GET', KEYS[1])
if not m then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
local n = redis.call('ZCARD', KEYS[2])
local c = redis.call('ZCOUNT', KEYS[2], ARGV[1], '+inf')
local chunk = tonumber(ARGV[2])
local out = {}
local r = n - c + chunk
while r < n do
  local e = redis.call('ZRANGE', KEYS[2], r, r, 'WITHSCORES')
  if e[2] then out[#out + 1] = e[2] end
  r = r + chunk
end
return {c, out, m, redis.call('GET', KEYS[3]) or '0'}
`

// availableDeltaScript brings a process-memory copy of the available index's members up to
// date and lists the stale members, in one atomic step.
// KEYS: marker, available index, available sequence, available changes.
// ARGV: the copy's marker, the copy's sequence, fresh-after ms, max changes, max stale.
// Returns {marker, sequence, 1} when the copy must be reloaded (another seed, or more
// changes than max), else {marker, sequence, 0, {changed id, ...}, {1 if now a member else
// 0, ...}, {stale member, ...}} with at most max stale + 1 stale members.
const availableDeltaScript = `
local m = redis.call('GET', KEYS[1])
if not m then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
local seq = redis.call('GET', KEYS[3]) or '0'
if m ~= ARGV[1] then return {m, seq, 1} end
local ch = redis.call('ZRANGE', KEYS[4], '(' .. ARGV[2], '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]) + 1)
if #ch > tonumber(ARGV[4]) then return {m, seq, 1} end
local flags = {}
if #ch > 0 then
  local sc = redis.call('ZMSCORE', KEYS[2], unpack(ch))
  for i = 1, #ch do
    if sc[i] then flags[i] = 1 else flags[i] = 0 end
  end
end
local stale = redis.call('ZRANGE', KEYS[2], '-inf', '(' .. ARGV[3], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[5]) + 1)
return {m, seq, 0, ch, flags, stale}
`

// offlineScript removes stale mitras from the online mirror, unless one pinged since the
// sweep read it (it is returned as revived and left alone).
// KEYS: online, heartbeat index, journal, available index, available sequence, available
// changes, unnamed leases, then heartbeat:<id> and devices:<id> per id.
// ARGV: fresh-after iso, now ms, then the ids. Returns the revived ids.
const offlineScript = `
local revived, gone = {}, {}
for i = 1, #ARGV - 2 do
  local id = ARGV[2 + i]
  local hb = redis.call('GET', KEYS[6 + 2 * i])
  if hb and hb >= ARGV[1] then
    revived[#revived + 1] = id
  else
    redis.call('SREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    if redis.call('ZREM', KEYS[4], id) == 1 then
      redis.call('ZADD', KEYS[6], redis.call('INCR', KEYS[5]), id)
    end
    redis.call('DEL', KEYS[6 + 2 * i], KEYS[7 + 2 * i])
    redis.call('ZADD', KEYS[3], ARGV[2], id)
    gone[#gone + 1] = id
  end
end
if #gone > 0 then redis.call('HDEL', KEYS[7], unpack(gone)) end
return revived
`
