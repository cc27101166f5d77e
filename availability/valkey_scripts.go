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

// luaDevices reads and trims a mitra's device leases: the HASH mitra:devices:<id>, device
// → "HHHHHHHHHHHHH:SSSSSSSSSSSSS:O": the device's last heartbeat and the last contact of
// its event stream (unix ms, 13 digits, zero when none: fixed width, so they compare as
// strings), and 1 while that stream is open. A device's lease is the later of the two.
// TOMB, both zero, is a device that signed off while the mitra stays online (a heartbeat
// of the device overwrites it; nothing else does).
const luaDevices = `
local ZERO = '0000000000000'
local TOMB = ZERO .. ':' .. ZERO .. ':0'
` + luaEvict

// luaEvict defines leaseof (a device value's lease, as a number) and evict, which drops
// the leases that end first (an open stream's last) until cap are left, never keep's (the
// device just written). The heartbeat script defines them only on the rare path that
// needs them: a Lua function is made anew at every run of the code that defines it.
const luaEvict = `
local function leaseof(v)
  local hb, st = string.sub(v, 1, 13), string.sub(v, 15, 27)
  if st > hb then return tonumber(st) end
  return tonumber(hb)
end
local function evict(key, keep, cap)
  local all = redis.call('HGETALL', key)
  local n = #all / 2
  if n <= cap then return end
  local c = {}
  for i = 1, #all, 2 do
    if all[i] ~= keep then
      local rank = leaseof(all[i + 1])
      if string.sub(all[i + 1], 29, 29) == '1' then rank = rank + 1e15 end
      c[#c + 1] = {all[i], rank}
    end
  end
  table.sort(c, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[1] < b[1]
  end)
  for i = 1, n - cap do redis.call('HDEL', key, c[i][1]) end
end
`

// heartbeatScript: the hot path, one round trip, five commands for an online mitra's
// known device.
// KEYS: marker, deactivated, heartbeat:<id>, heartbeat index, available index,
// devices:<id>. ARGV: id, iso, ms (13 digits), device, max devices.
// Returns -1 (deactivated), 0 (not online: nothing written) or 1 (online: recorded).
//
// It leans on two facts every script keeps: the heartbeat index holds exactly the online
// mitras (mitras:online), and its score is never behind the heartbeat string. So one
// ZADD XX GT CH both checks that the mitra is online and tells whether this ping is newer:
// only then is the string written (it never moves back) and the available index moved (XX:
// an online mitra is in it exactly when it is under capacity). The deactivated set is read
// only for a mitra that is not online (a deactivated mitra is never online). Then the
// device's heartbeat moves forward (one HGET, and an HSET when newer: the string compare
// of fixed-width milliseconds); a new device beyond the maximum evicts the lease that ends
// first.
const heartbeatScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
if redis.call('ZADD', KEYS[4], 'XX', 'GT', 'CH', ARGV[3], ARGV[1]) == 1 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[5], 'XX', 'GT', ARGV[3], ARGV[1])
elseif not redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
  return 0
end
local v = redis.call('HGET', KEYS[6], ARGV[4])
if not v then
  redis.call('HSET', KEYS[6], ARGV[4], ARGV[3] .. ':0000000000000:0')
  if redis.call('HLEN', KEYS[6]) > tonumber(ARGV[5]) then
` + luaEvict + `
    evict(KEYS[6], ARGV[4], tonumber(ARGV[5]))
  end
elseif string.sub(v, 1, 13) < ARGV[3] then
  redis.call('HSET', KEYS[6], ARGV[4], ARGV[3] .. string.sub(v, 14))
end
return 1
`

// streamScript writes one event stream's lease: the stream's contact at ARGV[3] is a ping
// of the mitra, and the device's stream part becomes that contact (never moved back) with
// the stream open (ARGV[5] = '1', a refresh, which creates the device's lease if it has
// none — after a data loss, say) or closed ('0': its reconnect grace begins). A device
// that signed off keeps the empty lease TOMB while the mitra is online: its stream, left
// open for the events of a chat, does not bring it back.
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
local v = redis.call('HGET', KEYS[6], ARGV[4])
if v == TOMB or ((not v) and ARGV[5] == '0') then return {3} end
if redis.call('ZADD', KEYS[4], 'XX', 'GT', 'CH', ARGV[3], ARGV[1]) == 1 then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[5], 'XX', 'GT', ARGV[3], ARGV[1])
end
local hb, st = ZERO, ARGV[3]
if v then
  hb = string.sub(v, 1, 13)
  if string.sub(v, 15, 27) > st then st = string.sub(v, 15, 27) end
end
local part = st .. ':' .. ARGV[5]
redis.call('HSET', KEYS[6], ARGV[4], hb .. ':' .. part)
if not v and redis.call('HLEN', KEYS[6]) > tonumber(ARGV[6]) then evict(KEYS[6], ARGV[4], tonumber(ARGV[6])) end
return {1, part}
`

// endDeviceScript ends a device's lease (ARGV[3] empty: the device signed off, and keeps
// TOMB), or only its stream's (ARGV[3] is the stream part a close wrote: the grace passed;
// if the part changed, a stream of the device refreshed it since, and nothing ends; the
// device's own heartbeat stays if it is fresh, else the device goes).
// KEYS: marker, heartbeat:<id>, heartbeat index, available index, devices:<id>.
// ARGV: id, device, stream part or "", fresh-after ms, max devices (a tombstone beyond it
// is not kept).
// Returns {0} (not online), {2} (reconnected: nothing ended), {-1} (no live lease left:
// the caller sets the mitra offline, Postgres first) or {1, heartbeat ms}.
// The mitra's heartbeat is its freshest lease: when the lease that ended was it, the
// heartbeat, the index and the available index move back to the freshest lease left (XX,
// not GT). When the heartbeat was fresher than every lease — pings the mirror holds per
// mitra only: rebuilt from Postgres by a seed, or a ping that fell back to Postgres — it
// is some device's that the mirror cannot name, and it stands until it goes stale.
const endDeviceScript = luaMillisISO + luaDevices + `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOTSEEDED availability mirror not seeded') end
local cur = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not cur then return {0} end
cur = tonumber(cur)
local fresh = tonumber(ARGV[4])
local v = redis.call('HGET', KEYS[5], ARGV[2])
if ARGV[3] ~= '' and ((not v) or string.sub(v, 15) ~= ARGV[3]) then return {2} end
local all = redis.call('HGETALL', KEYS[5])
local before, after = 0, 0
for i = 1, #all, 2 do
  local l = leaseof(all[i + 1])
  if l > before then before = l end
  if all[i] ~= ARGV[2] and l > after then after = l end
end
if ARGV[3] == '' then
  if v or #all / 2 < tonumber(ARGV[5]) then redis.call('HSET', KEYS[5], ARGV[2], TOMB) end
elseif v then
  local hb = string.sub(v, 1, 13)
  if tonumber(hb) < fresh then
    redis.call('HDEL', KEYS[5], ARGV[2])
  else
    redis.call('HSET', KEYS[5], ARGV[2], hb .. ':' .. ZERO .. ':0')
    if tonumber(hb) > after then after = tonumber(hb) end
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
// journal, available index, available sequence, available changes, devices:<id>. ARGV: id, active
// (0/1), online (0/1), Postgres heartbeat iso or "", capacity, at capacity (0/1), now ms,
// journal retention ms.
// A mitra entering or leaving the available index is logged in the available changes
// (mitra → sequence number of its last change), which the process-memory copies of the
// index follow. A mitra that is not online loses its device leases; an online one keeps
// them (they are Valkey's alone: Postgres knows no devices).
const applyScript = luaISOMillis + `
local id = ARGV[1]
local listed = false
if ARGV[2] == '0' then
  redis.call('SADD', KEYS[2], id)
  redis.call('SREM', KEYS[1], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', KEYS[5], KEYS[11])
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

// seedChunkScript writes one chunk of a seed: the sets and the indexes into the temporary
// keys (built aside), the per-mitra keys in place (their values are Postgres truth, and a
// heartbeat is only ever moved forward). It gathers each kind of write of the whole chunk
// into one variadic command (SADD, ZADD, MGET, MSET, DEL), so that a row costs a few
// microseconds of server time rather than a command each.
// KEYS: tmp online, tmp deactivated, tmp at-capacity, tmp heartbeat index, tmp available
// index, live heartbeat index, then per row heartbeat:<id>, capacity:<id>, devices:<id>.
// A mitra that is not online loses its heartbeat and device leases; an online one keeps
// its device leases, and when Postgres holds a fresher heartbeat than Valkey (after a data
// loss, or pings that fell back to Postgres) that ping gets the unnamed lease "*": some
// device sent it, which the mirror cannot name (Postgres knows no devices). ARGV: ttl
// seconds of the temporary keys, then per row id, flags (active, online, at capacity as
// three 0/1 characters), Postgres heartbeat iso or "", the same in unix ms (13 digits) or
// "", capacity.
// The score of a heartbeat that Valkey holds is read from the live index (the same ms as
// the string), or parsed from the string if the index lacks it. The string itself is read
// only where the live index does not settle the row: a positive live score at or after
// Postgres's heartbeat keeps the heartbeat Valkey holds (every script that writes a
// positive score writes the string, every one that deletes the string drops the member),
// so a reseed reads the strings of the mitras that pinged only through Postgres, not all.
const seedChunkScript = luaISOMillis + `
local rows = (#ARGV - 1) / 5
local online, deact, full, capset, hbdel, onRows, hbkeys = {}, {}, {}, {}, {}, {}, {}
for i = 0, rows - 1 do
  local b = 2 + i * 5
  local id, f = ARGV[b], ARGV[b + 1]
  local active = string.sub(f, 1, 1) == '1'
  if not active then deact[#deact + 1] = id end
  if string.sub(f, 3, 3) == '1' then full[#full + 1] = id end
  capset[#capset + 1] = KEYS[8 + i * 3]
  capset[#capset + 1] = ARGV[b + 4]
  if active and string.sub(f, 2, 2) == '1' then
    online[#online + 1] = id
    onRows[#onRows + 1] = i
    hbkeys[#hbkeys + 1] = KEYS[7 + i * 3]
  else
    hbdel[#hbdel + 1] = KEYS[7 + i * 3]
    hbdel[#hbdel + 1] = KEYS[9 + i * 3]
  end
end
if #online > 0 then
  local live = redis.call('ZMSCORE', KEYS[6], unpack(online))
  local cur, settled, need, at = {}, {}, {}, {}
  for j, i in ipairs(onRows) do
    local s, pgms = live[j], ARGV[5 + i * 5]
    if s and tonumber(s) > 0 and (pgms == '' or tonumber(pgms) <= tonumber(s)) then
      settled[j] = true
    else
      need[#need + 1] = hbkeys[j]
      at[#at + 1] = j
    end
  end
  if #need > 0 then
    local got = redis.call('MGET', unpack(need))
    for k, j in ipairs(at) do cur[j] = got[k] end
  end
  local idx, avail, hbset = {}, {}, {}
  for j, i in ipairs(onRows) do
    local b = 2 + i * 5
    local pg, c, score = ARGV[b + 2], cur[j], 0
    if settled[j] then
      score = live[j]
    elseif pg ~= '' and ((not c) or c < pg) then
      hbset[#hbset + 1] = hbkeys[j]
      hbset[#hbset + 1] = pg
      score = ARGV[b + 3]
      redis.call('HSET', KEYS[9 + i * 3], '*', ARGV[b + 3] .. ':0000000000000:0')
    elseif c then
      score = live[j] or isoms(c) or 0
    end
    idx[#idx + 1] = score
    idx[#idx + 1] = online[j]
    if string.sub(ARGV[b + 1], 3, 3) ~= '1' then
      avail[#avail + 1] = score
      avail[#avail + 1] = online[j]
    end
  end
  redis.call('SADD', KEYS[1], unpack(online))
  redis.call('ZADD', KEYS[4], unpack(idx))
  if #avail > 0 then redis.call('ZADD', KEYS[5], unpack(avail)) end
  if #hbset > 0 then redis.call('MSET', unpack(hbset)) end
end
if #deact > 0 then redis.call('SADD', KEYS[2], unpack(deact)) end
if #full > 0 then redis.call('SADD', KEYS[3], unpack(full)) end
if #hbdel > 0 then redis.call('DEL', unpack(hbdel)) end
if #capset > 0 then redis.call('MSET', unpack(capset)) end
for k = 1, 5 do redis.call('EXPIRE', KEYS[k], ARGV[1]) end
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
// changes, then heartbeat:<id> and devices:<id> per id.
// ARGV: fresh-after iso, now ms, then the ids. Returns the revived ids.
const offlineScript = `
local revived = {}
for i = 1, #ARGV - 2 do
  local id = ARGV[2 + i]
  local hb = redis.call('GET', KEYS[5 + 2 * i])
  if hb and hb >= ARGV[1] then
    revived[#revived + 1] = id
  else
    redis.call('SREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    if redis.call('ZREM', KEYS[4], id) == 1 then
      redis.call('ZADD', KEYS[6], redis.call('INCR', KEYS[5]), id)
    end
    redis.call('DEL', KEYS[5 + 2 * i], KEYS[6 + 2 * i])
    redis.call('ZADD', KEYS[3], ARGV[2], id)
  end
end
return revived
`
