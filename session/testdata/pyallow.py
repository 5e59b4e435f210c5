#!/usr/bin/env python3
"""One step of Python RAET's allow handshake, for interop_test.go.

Reads one JSON request on stdin and writes one JSON answer on stdout. Each step
does what raet/road/transacting.py's Allower or Allowent does for that packet,
with Python RAET's own struct packers (raet.raeting) and key classes
(raet.nacling), minus the stack: the test passes the keys and uids a stack
would hold, and gets back the state Python would keep. Bytes travel as hex.

  ping                                     -> {}
  hello    (Allower.hello)                 -> body, short_prihex
  cookie   (Allowent.hello + .cookie)      -> body, short_prihex, oreo, init_short_pubhex
  initiate (Allower.cookie + .initiate)    -> body, resp_short_pubhex
  accept   (Allowent.initiate's checks)    -> fqdn_match
  seal / open: a coat with a short-term pair
Failures answer {"error": "..."}.
"""
import binascii
import collections
import collections.abc
import json
import sys

# Python 3.10 moved these; RAET and ioflo still look for them in collections.
for _name in ("Mapping", "MutableMapping", "MutableSet", "Iterable", "Sequence",
              "Callable", "Hashable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

import libnacl  # noqa: E402
from raet import raeting, nacling  # noqa: E402


class Refused(Exception):
    pass


# What a box that does not open raises: ValueError in the libnacl RAET was
# written for (and what it catches), libnacl.CryptError in newer ones.
BoxError = (ValueError, getattr(libnacl, "CryptError", ValueError))


def raw(req, name):
    return bytes.fromhex(req[name])


def pad_fqdn(fqdn):
    return fqdn.encode("ascii", "ignore").ljust(128, b" ")[:128]


def hello(req):
    short = nacling.Privateer()
    plain = binascii.hexlify(bytes(32))
    cipher, nonce = short.encrypt(plain, raw(req, "resp_long_pubhex"))
    body = raeting.HELLO_PACKER.pack(plain, short.pubraw, cipher, nonce)
    return {"body": body.hex(), "short_prihex": short.keyraw.hex()}


def cookie(req):
    long_key = nacling.Privateer(raw(req, "resp_long_prihex"))
    body = raw(req, "body")
    if len(body) != raeting.HELLO_PACKER.size:
        raise Refused("hello size")
    plain, short_pub, cipher, nonce = raeting.HELLO_PACKER.unpack(body)
    try:
        msg = long_key.decrypt(cipher, nonce, short_pub)
    except BoxError as ex:
        raise Refused("hello box: %s" % ex)
    if msg != plain:
        raise Refused("hello plain mismatch")
    own = nacling.Privateer()
    oreo = own.nonce()
    stuff = raeting.COOKIESTUFF_PACKER.pack(own.pubraw, req["nuid"], req["fuid"], oreo)
    cipher, nonce = long_key.encrypt(stuff, short_pub)
    return {"body": raeting.COOKIE_PACKER.pack(cipher, nonce).hex(),
            "short_prihex": own.keyraw.hex(), "oreo": oreo.hex(),
            "init_short_pubhex": short_pub.hex()}


def initiate(req):
    long_key = nacling.Privateer(raw(req, "init_long_prihex"))
    short = nacling.Privateer(raw(req, "short_prihex"))
    resp_long = raw(req, "resp_long_pubhex")
    body = raw(req, "body")
    if len(body) != raeting.COOKIE_PACKER.size:
        raise Refused("cookie size")
    cipher, nonce = raeting.COOKIE_PACKER.unpack(body)
    try:
        msg = short.decrypt(cipher, nonce, resp_long)
    except BoxError as ex:
        raise Refused("cookie box: %s" % ex)
    if len(msg) != raeting.COOKIESTUFF_PACKER.size:
        raise Refused("cookie stuff size")
    resp_short, seid, deid, oreo = raeting.COOKIESTUFF_PACKER.unpack(msg)
    if seid != req["fuid"] or deid != req["nuid"]:
        raise Refused("cookie uids %d %d" % (seid, deid))
    vcipher, vnonce = long_key.encrypt(short.pubraw, resp_long)
    stuff = raeting.INITIATESTUFF_PACKER.pack(long_key.pubraw, vcipher, vnonce,
                                              pad_fqdn(req["fqdn"]))
    cipher, nonce = short.encrypt(stuff, resp_short)
    body = raeting.INITIATE_PACKER.pack(short.pubraw, oreo, cipher, nonce)
    return {"body": body.hex(), "resp_short_pubhex": resp_short.hex()}


def accept(req):
    long_key = nacling.Privateer(raw(req, "resp_long_prihex"))
    own = nacling.Privateer(raw(req, "short_prihex"))
    init_long = raw(req, "init_long_pubhex")
    init_short = raw(req, "init_short_pubhex")
    body = raw(req, "body")
    if len(body) != raeting.INITIATE_PACKER.size:
        raise Refused("initiate size")
    short_pub, oreo, cipher, nonce = raeting.INITIATE_PACKER.unpack(body)
    if short_pub != init_short:
        raise Refused("short-term key mismatch")
    if oreo != raw(req, "oreo"):
        raise Refused("stale or invalid cookie")
    try:
        msg = own.decrypt(cipher, nonce, init_short)
    except BoxError as ex:
        raise Refused("initiate box: %s" % ex)
    if len(msg) != raeting.INITIATESTUFF_PACKER.size:
        raise Refused("initiate stuff size")
    long_pub, vcipher, vnonce, fqdn = raeting.INITIATESTUFF_PACKER.unpack(msg)
    if long_pub != init_long:
        raise Refused("long-term key mismatch")
    try:
        vouch = long_key.decrypt(vcipher, vnonce, init_long)
    except BoxError as ex:
        raise Refused("vouch box: %s" % ex)
    if vouch != init_short or vouch != short_pub:
        raise Refused("vouch mismatch")
    match = fqdn.rstrip(b" ") == pad_fqdn(req["fqdn"]).rstrip(b" ")
    return {"fqdn_match": match}


def seal(req):
    key = nacling.Privateer(raw(req, "prihex"))
    cipher, nonce = key.encrypt(raw(req, "msg"), raw(req, "pubhex"))
    return {"sealed": (cipher + nonce).hex()}


def open_(req):
    key = nacling.Privateer(raw(req, "prihex"))
    sealed = raw(req, "sealed")
    try:
        msg = key.decrypt(sealed[:-24], sealed[-24:], raw(req, "pubhex"))
    except BoxError as ex:
        raise Refused("coat box: %s" % ex)
    return {"msg": msg.hex()}


OPS = {"ping": lambda req: {}, "hello": hello, "cookie": cookie, "initiate": initiate,
       "accept": accept, "seal": seal, "open": open_}


def main():
    req = json.load(sys.stdin)
    try:
        out = OPS[req["op"]](req)
    except Refused as ex:
        out = {"error": str(ex)}
    json.dump(out, sys.stdout)


main()
