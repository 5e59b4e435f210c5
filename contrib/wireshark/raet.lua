-- Wireshark dissector for RAET (Reliable Asynchronous Event Transport) road
-- packets: native ("ri RAET\n..."), JSON ({"ri":"RAET",...}) and raet-go's
-- binary heads (first byte 0xD2), then the coat (the body, encrypted when the
-- coat kind is nacl) and the foot (an Ed25519 signature). Of raet-go's
-- fast-mode packets (coat kind aead) it shows the key epoch and packet number
-- the coat carries in clear; the frames inside need the keys (raet dump).
--
-- Load it with `wireshark -X lua_script:raet.lua` or copy it into the
-- personal Lua plugins folder; see README.md. Registered on UDP port 7530
-- (a preference) and as a heuristic dissector for UDP on any port.
--
-- Every head field gets a raet.XX field named as Python RAET names it, also
-- when the head leaves it out for being at its default (those items are
-- marked generated), so `tshark -T fields -e raet.si` always prints a value.

local raet = Proto("raet", "RAET (Reliable Asynchronous Event Transport)")

local head_kinds = { [0] = "raet", [1] = "json", [2] = "binary" }
local body_kinds = { [0] = "nada", [1] = "json", [2] = "raw", [3] = "msgpack" }
local coat_kinds = { [0] = "nada", [1] = "nacl", [2] = "crc16", [3] = "crc64", [4] = "aead" }
local foot_kinds = { [0] = "nada", [1] = "nacl", [2] = "sha2", [3] = "crc64" }
local trns_kinds = { [0] = "message", [1] = "join", [2] = "bind", [3] = "allow", [4] = "alive" }
local pckt_kinds = {
    [0] = "message", [1] = "ack", [2] = "nack", [3] = "resend", [4] = "request",
    [5] = "response", [6] = "hello", [7] = "cookie", [8] = "initiate", [9] = "unjoined",
    [10] = "unallowed", [11] = "renew", [12] = "refuse", [13] = "reject", [14] = "pend",
    [15] = "done",
}
local foot_sizes = { [0] = 0, [1] = 64, [2] = 256, [3] = 8 }

local MAX_HEAD = 255
local BINARY_MAGIC = 0xD2

local f = raet.fields
f.ri = ProtoField.string("raet.ri", "Identifier (ri)")
f.vn = ProtoField.uint8("raet.vn", "Version (vn)")
f.pk = ProtoField.uint8("raet.pk", "Packet kind (pk)", base.DEC, pckt_kinds)
f.pl = ProtoField.uint32("raet.pl", "Packet length (pl)")
f.hk = ProtoField.uint8("raet.hk", "Head kind (hk)", base.DEC, head_kinds)
f.hl = ProtoField.uint16("raet.hl", "Head length (hl)")
f.se = ProtoField.uint64("raet.se", "Source estate uid (se)")
f.de = ProtoField.uint64("raet.de", "Destination estate uid (de)")
f.si = ProtoField.uint64("raet.si", "Session id (si)")
f.ti = ProtoField.uint64("raet.ti", "Transaction id (ti)")
f.tk = ProtoField.uint8("raet.tk", "Transaction kind (tk)", base.DEC, trns_kinds)
f.dt = ProtoField.double("raet.dt", "Datetime stamp (dt)")
f.oi = ProtoField.uint64("raet.oi", "Order index (oi)")
f.sn = ProtoField.uint64("raet.sn", "Segment number (sn)")
f.sc = ProtoField.uint64("raet.sc", "Segment count (sc)")
f.ml = ProtoField.uint64("raet.ml", "Message length (ml)")
f.bk = ProtoField.uint8("raet.bk", "Body kind (bk)", base.DEC, body_kinds)
f.ck = ProtoField.uint8("raet.ck", "Coat kind (ck)", base.DEC, coat_kinds)
f.fk = ProtoField.uint8("raet.fk", "Foot kind (fk)", base.DEC, foot_kinds)
f.fl = ProtoField.uint16("raet.fl", "Foot length (fl)")
f.fg = ProtoField.uint8("raet.fg", "Flags (fg)", base.HEX)
f.vf = ProtoField.bool("raet.fg.vf", "IPv6 (vf)", 8, nil, 0x80)
f.df = ProtoField.bool("raet.fg.df", "Dynamic address (df)", 8, nil, 0x40)
f.nf = ProtoField.bool("raet.fg.nf", "NAT (nf)", 8, nil, 0x20)
f.af = ProtoField.bool("raet.fg.af", "Again (af)", 8, nil, 0x10)
f.sf = ProtoField.bool("raet.fg.sf", "Segment (sf)", 8, nil, 0x08)
f.wf = ProtoField.bool("raet.fg.wf", "Waiting (wf)", 8, nil, 0x04)
f.bf = ProtoField.bool("raet.fg.bf", "Broadcast (bf)", 8, nil, 0x02)
f.cf = ProtoField.bool("raet.fg.cf", "Correspondent (cf)", 8, nil, 0x01)
f.head = ProtoField.bytes("raet.head", "Head")
f.coat = ProtoField.bytes("raet.coat", "Coat")
f.coat_len = ProtoField.uint32("raet.coat_len", "Coat length")
f.foot = ProtoField.bytes("raet.foot", "Foot")
f.foot_len = ProtoField.uint32("raet.foot_len", "Foot length")
f.aead_epoch = ProtoField.uint32("raet.aead.epoch", "Fast-mode key epoch")
f.aead_pn = ProtoField.uint64("raet.aead.pn", "Fast-mode packet number")

-- Coat kind aead (raet-go fast mode): epoch (4 bytes) and packet number
-- (8 bytes) in clear, then the frames' ciphertext and a 16-byte tag.
local CK_AEAD, AEAD_PREFIX, AEAD_TAG = 4, 12, 16

local e_malformed = ProtoExpert.new("raet.malformed", "Malformed RAET packet",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_truncated = ProtoExpert.new("raet.truncated", "RAET packet truncated",
    expert.group.MALFORMED, expert.severity.WARN)
raet.experts = { e_malformed, e_truncated }

raet.prefs.port = Pref.uint("UDP port", 7530, "UDP port decoded as RAET")

-- Kinds of head field values.
local U64 = { se = true, de = true, si = true, ti = true, oi = true, sn = true, sc = true, ml = true }
local SMALL = { vn = true, pk = true, pl = true, hk = true, hl = true, tk = true,
    bk = true, ck = true, fk = true, fl = true, fg = true }
local FLAGS = { vf = true, df = true, nf = true, af = true, sf = true, wf = true, bf = true, cf = true }
local ORDER = { "ri", "vn", "pk", "pl", "hk", "hl", "se", "de", "si", "ti", "tk", "dt",
    "oi", "sn", "sc", "ml", "bk", "ck", "fk", "fl", "fg" }

-- Parses a decimal string into a UInt64 (JSON heads write uids in decimal).
local function dec_u64(s)
    local v = UInt64(0)
    for i = 1, #s do
        local d = s:byte(i) - 48
        if d < 0 or d > 9 then return nil end
        v = v * 10 + d
    end
    return v
end

local function hex_u64(s)
    if s == "" or s:find("[^0-9a-fA-F]") or #s > 16 then return nil end
    return UInt64.fromhex(s)
end

-- A head is a table of field name -> { value = v, range = TvbRange }.
-- Each parser returns head, head_length or nil, error.

local function parse_native(tvb)
    local len = math.min(tvb:len(), MAX_HEAD)
    local text = tvb:raw(0, len)
    local stop = text:find("\n\n", 1, true)
    if not stop then return nil, "no end of head within 255 bytes" end
    local hl = stop + 1
    local head = {}
    local pos = 1
    while pos < stop do
        local eol = text:find("\n", pos, true)
        local line = text:sub(pos, eol - 1)
        local key, val = line:match("^(%l%l) (%S+)$")
        if not key then return nil, "bad head line: " .. line end
        local vstart = pos - 1 + 3
        local range = tvb(vstart, #val)
        if key == "ri" then
            if val ~= "RAET" then return nil, "ri is not RAET" end
            head.ri = { value = val, range = range }
        elseif key == "dt" then
            local v = tonumber(val)
            if not v then return nil, "bad dt" end
            head.dt = { value = v, range = range }
        elseif U64[key] then
            local v = hex_u64(val)
            if not v then return nil, "bad " .. key end
            head[key] = { value = v, range = range }
        elseif SMALL[key] then
            local v = tonumber(val, 16)
            if not v or val:find("[^0-9a-fA-F]") then return nil, "bad " .. key end
            head[key] = { value = v, range = range }
        elseif FLAGS[key] then
            -- a redundant flag field; fg carries the flags
        else
            return nil, "unknown field " .. key
        end
        pos = eol + 1
    end
    if not head.pl or not head.hl then return nil, "pl or hl missing" end
    head.hk = head.hk or { value = 0 }
    return head, hl
end

local function parse_json(tvb)
    local len = math.min(tvb:len(), MAX_HEAD)
    local text = tvb:raw(0, len)
    local stop = text:find("\r\n\r\n", 1, true)
    if not stop then return nil, "no end of head within 255 bytes" end
    local hl = stop + 3
    local body = text:sub(1, stop - 1)
    if body:sub(1, 1) ~= "{" or body:sub(-1) ~= "}" then return nil, "head is not a JSON object" end
    local head = {}
    local pos = 2
    while pos < #body do
        local kstart, kend, key = body:find('^%s*"(%l%l)"%s*:%s*', pos)
        if not kstart then return nil, "bad JSON head near byte " .. pos end
        pos = kend + 1
        local val, vstart, quoted
        if body:sub(pos, pos) == '"' then
            local close = body:find('"', pos + 1, true)
            if not close then return nil, "unterminated string" end
            val, vstart, quoted = body:sub(pos + 1, close - 1), pos + 1, true
            pos = close + 1
        else
            local s, e = body:find("^[%w%.%+%-]+", pos)
            if not s then return nil, "bad value for " .. key end
            val, vstart, quoted = body:sub(s, e), s, false
            pos = e + 1
        end
        local range = tvb(vstart - 1, #val)
        if key == "ri" then
            if val ~= "RAET" then return nil, "ri is not RAET" end
            head.ri = { value = val, range = range }
        elseif key == "pl" or key == "hl" or key == "fg" then
            local v = quoted and tonumber(val, 16)
            if not v then return nil, "bad " .. key end
            head[key] = { value = v, range = range }
        elseif key == "dt" then
            local v = tonumber(val)
            if not v then return nil, "bad dt" end
            head.dt = { value = v, range = range }
        elseif U64[key] then
            local v = (not quoted) and dec_u64(val)
            if not v then return nil, "bad " .. key end
            head[key] = { value = v, range = range }
        elseif SMALL[key] then
            local v = (not quoted) and tonumber(val)
            if not v then return nil, "bad " .. key end
            head[key] = { value = v, range = range }
        elseif FLAGS[key] then
            -- redundant
        else
            return nil, "unknown field " .. key
        end
        local comma = body:find("^%s*,", pos)
        if comma then
            pos = body:find(",", pos, true) + 1
        else
            pos = body:find("^%s*$", pos) and #body or pos
            break
        end
    end
    if not head.pl or not head.hl then return nil, "pl or hl missing" end
    return head, hl
end

local function parse_binary(tvb)
    if tvb:len() < 44 then return nil, "binary head shorter than 44 bytes" end
    local b1 = tvb(1, 1):uint()
    local opts = b1 % 16
    if math.floor(b1 / 16) ~= 0 or opts > 3 then return nil, "unknown binary head layout" end
    local wide = opts % 2 == 1
    local has_dt = opts >= 2
    local hl = 44 + (wide and 20 or 0) + (has_dt and 8 or 0)
    if tvb:len() < hl then return nil, "binary head cut short" end
    if tvb(8, 1):uint() ~= hl or tvb(9, 1):uint() ~= 0 then return nil, "bad binary head length" end
    local head = {
        ri = { value = "RAET", range = tvb(0, 1) },
        vn = { value = tvb(2, 1):uint(), range = tvb(2, 1) },
        pk = { value = tvb(3, 1):uint(), range = tvb(3, 1) },
        tk = { value = tvb(4, 1):uint(), range = tvb(4, 1) },
        bk = { value = math.floor(tvb(5, 1):uint() / 16), range = tvb(5, 1) },
        ck = { value = tvb(5, 1):uint() % 16, range = tvb(5, 1) },
        fk = { value = tvb(6, 1):uint(), range = tvb(6, 1) },
        fg = { value = tvb(7, 1):uint(), range = tvb(7, 1) },
        hl = { value = hl, range = tvb(8, 1) },
        hk = { value = 2, range = tvb(0, 1) },
        fl = { value = tvb(10, 2):uint(), range = tvb(10, 2) },
        pl = { value = tvb(12, 4):uint(), range = tvb(12, 4) },
        sn = { value = UInt64(tvb(16, 2):uint()), range = tvb(16, 2) },
        sc = { value = UInt64(tvb(18, 2):uint()), range = tvb(18, 2) },
        ml = { value = UInt64(tvb(20, 4):uint()), range = tvb(20, 4) },
    }
    local off = 24
    for _, k in ipairs({ "se", "de", "si", "ti", "oi" }) do
        if wide then
            head[k] = { value = tvb(off, 8):uint64(), range = tvb(off, 8) }
            off = off + 8
        else
            head[k] = { value = UInt64(tvb(off, 4):uint()), range = tvb(off, 4) }
            off = off + 4
        end
    end
    if has_dt then
        head.dt = { value = tvb(off, 8):float(), range = tvb(off, 8) }
    end
    return head, hl
end

local DEFAULTS = {
    ri = "RAET", vn = 0, pk = 0, hk = 0, tk = 0, dt = 0, bk = 0, ck = 0, fk = 0, fl = 0, fg = 0,
}

local function default_of(k)
    if U64[k] then
        return UInt64(k == "sc" and 1 or 0)
    end
    return DEFAULTS[k]
end

local function field_value(head, k)
    local e = head[k]
    if e then return e.value end
    return default_of(k)
end

local function num(v)
    if type(v) == "number" then return v end
    return tonumber(tostring(v))
end

-- Dissects a RAET packet at the start of tvb; returns the bytes consumed, or
-- 0 when it is not RAET.
local function dissect(tvb, pinfo, tree)
    local first = tvb:len() > 0 and tvb(0, 1):uint() or -1
    local head, hl
    if tvb:len() >= 8 and tvb:raw(0, 8) == "ri RAET\n" then
        head, hl = parse_native(tvb)
    elseif tvb:len() >= 13 and tvb:raw(0, 13) == '{"ri":"RAET",' then
        head, hl = parse_json(tvb)
    elseif first == BINARY_MAGIC then
        head, hl = parse_binary(tvb)
    else
        return 0
    end

    if head and num(head.hl.value) ~= hl then
        head, hl = nil, "hl " .. num(head.hl.value) .. " but the head is " .. hl .. " bytes"
    end

    pinfo.cols.protocol = "RAET"
    local subtree = tree:add(raet, tvb(), "RAET")
    if not head then
        subtree:add_proto_expert_info(e_malformed, hl)
        pinfo.cols.info = "RAET malformed: " .. tostring(hl)
        return tvb:len()
    end

    local hitem = subtree:add(f.head, tvb(0, math.min(hl, tvb:len())))
    hitem:set_text("Head (" .. head_kinds[num(field_value(head, "hk"))] .. ", " .. hl .. " bytes)")
    for _, k in ipairs(ORDER) do
        local e = head[k]
        local item
        if e and e.range then
            item = hitem:add(f[k], e.range, e.value)
        else
            item = hitem:add(f[k], tvb(0, 0), default_of(k))
            item:set_generated()
        end
        if k == "fg" then
            local fgv = num(field_value(head, "fg"))
            local fgr = (e and e.range) or tvb(0, 0)
            for _, name in ipairs({ "vf", "df", "nf", "af", "sf", "wf", "bf", "cf" }) do
                -- the value is the whole fg byte; the field's mask picks the bit
                local bit = item:add(f[name], fgr, fgv)
                if not (e and e.range) then bit:set_generated() end
            end
        end
    end

    local pl = num(field_value(head, "pl"))
    local fl = num(field_value(head, "fl"))
    local fk = num(field_value(head, "fk"))
    local sc = num(field_value(head, "sc"))
    local sn = num(field_value(head, "sn"))
    local fg = num(field_value(head, "fg"))
    local tk = num(field_value(head, "tk"))
    local pk = num(field_value(head, "pk"))
    local avail = tvb:len()
    local coat_len = pl - hl - fl
    local aead = ""
    if coat_len < 0 or (foot_sizes[fk] and foot_sizes[fk] ~= fl) then
        subtree:add_proto_expert_info(e_malformed, "pl, hl and fl do not add up")
    elseif pl > avail then
        subtree:add_proto_expert_info(e_truncated, "pl " .. pl .. " but " .. avail .. " bytes captured")
        local have = math.max(0, math.min(coat_len, avail - hl))
        subtree:add(f.coat_len, coat_len):set_generated()
        if have > 0 then subtree:add(f.coat, tvb(hl, have)) end
        subtree:add(f.foot_len, fl):set_generated()
    else
        if pl < avail then
            subtree:add_proto_expert_info(e_malformed, (avail - pl) .. " bytes after pl")
        end
        local citem = subtree:add(f.coat_len, tvb(hl, coat_len), coat_len)
        citem:set_generated()
        if coat_len > 0 then subtree:add(f.coat, tvb(hl, coat_len)) end
        if num(field_value(head, "ck")) == CK_AEAD and coat_len >= AEAD_PREFIX + AEAD_TAG then
            subtree:add(f.aead_epoch, tvb(hl, 4))
            subtree:add(f.aead_pn, tvb(hl + 4, 8))
            aead = string.format(" epoch=%d pn=%s", tvb(hl, 4):uint(), tostring(tvb(hl + 4, 8):uint64()))
        end
        local fitem = subtree:add(f.foot_len, tvb(pl - fl, fl), fl)
        fitem:set_generated()
        if fl > 0 then subtree:add(f.foot, tvb(pl - fl, fl)) end
    end

    local info = string.format("RAET %s/%s se=%s de=%s si=%s ti=%s",
        trns_kinds[tk] or tostring(tk), pckt_kinds[pk] or tostring(pk),
        tostring(field_value(head, "se")), tostring(field_value(head, "de")),
        tostring(field_value(head, "si")), tostring(field_value(head, "ti")))
    if sc > 1 or math.floor(fg / 8) % 2 == 1 then
        info = info .. string.format(" seg %d/%d", sn + 1, sc)
    end
    pinfo.cols.info = info .. aead
    subtree:append_text(", " .. head_kinds[num(field_value(head, "hk"))] .. " head, " ..
        (trns_kinds[tk] or "?") .. "/" .. (pckt_kinds[pk] or "?"))
    return math.min(pl, avail)
end

function raet.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

-- The heuristic takes only what plainly is RAET: a native or JSON head's
-- opening, or a binary head whose layout byte, length and reserved byte fit.
local function heuristic(tvb, pinfo, tree)
    local n = tvb:len()
    if n >= 8 and tvb:raw(0, 8) == "ri RAET\n" then
    elseif n >= 13 and tvb:raw(0, 13) == '{"ri":"RAET",' then
    elseif n >= 44 and tvb(0, 1):uint() == BINARY_MAGIC then
        local b1 = tvb(1, 1):uint()
        local opts = b1 % 16
        if b1 >= 16 or opts > 3 then return false end
        local hl = 44 + (opts % 2 == 1 and 20 or 0) + (opts >= 2 and 8 or 0)
        if tvb(8, 1):uint() ~= hl or tvb(9, 1):uint() ~= 0 or tvb(2, 1):uint() ~= 0 then return false end
    else
        return false
    end
    dissect(tvb, pinfo, tree)
    return true
end

local registered_port = nil
local function register_port()
    local udp = DissectorTable.get("udp.port")
    if registered_port then udp:remove(registered_port, raet) end
    registered_port = raet.prefs.port
    if registered_port ~= 0 then udp:add(registered_port, raet) end
end

function raet.prefs_changed()
    if raet.prefs.port ~= registered_port then register_port() end
end

register_port()
raet:register_heuristic("udp", heuristic)
