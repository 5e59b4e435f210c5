#!/usr/bin/env python3
"""Extracts the allow handshake of each run in /work/shared/vectors/road.json into
handshake.json (run once by hand; the tests read only handshake.json):
  extract.py /work/shared/vectors/road.json > handshake.json
Per run: both estates' long-term keys and uids, the hello, cookie and initiate
packets (whole packet hex with hl and fl), each side's short-term private key and
public key as the later coats reveal them, and one later coat-sealed packet in
each direction with its plaintext as libnacl opens it."""
import json
import sys

import libnacl


def first(packets, transaction, kind):
    for p in packets:
        if p["transaction"] == transaction and p["kind"] == kind:
            return p
    raise SystemExit("no %s %s packet" % (transaction, kind))


def first_coat(packets, sender):
    for p in packets:
        h = p["head"]
        if p["from"] == sender and h["ck"] == 1 and h["pl"] - h["hl"] - h["fl"] > 0 \
                and not h["sf"] and h.get("sc", 1) <= 1:
            return p
    raise SystemExit("no coat from %s" % sender)


def packet(p):
    return {"hex": p["hex"], "hl": p["head"]["hl"], "fl": p["head"]["fl"],
            "si": p["head"]["si"], "se": p["head"]["se"], "de": p["head"]["de"]}


def coat(p):
    raw = bytes.fromhex(p["hex"])
    h = p["head"]
    c = raw[h["hl"]:len(raw) - h["fl"]]
    plain = libnacl.crypto_box_open(c[:-24], c[-24:], bytes.fromhex(p["coat_pubhex"]),
                                    bytes.fromhex(p["coat_prihex"]))
    out = packet(p)
    out["plain_hex"] = plain.hex()
    return out


def main():
    road = json.load(open(sys.argv[1]))
    runs = []
    for run in road["vectors"]:
        ps = run["packets"]
        minion_coat = first_coat(ps, "minion")  # minion short priv, master short pub
        master_coat = first_coat(ps, "master")  # master short priv, minion short pub
        runs.append({
            "name": run["name"],
            "estates": {k: {f: v[f] for f in ("prihex", "pubhex", "sighex", "verhex", "uid")}
                        for k, v in run["estates"].items()},
            "hello": packet(first(ps, "Allower", "hello")),
            "cookie": packet(first(ps, "Allowent", "cookie")),
            "initiate": packet(first(ps, "Allower", "initiate")),
            "initiator_short_prihex": minion_coat["coat_prihex"],
            "initiator_short_pubhex": master_coat["coat_pubhex"],
            "responder_short_prihex": master_coat["coat_prihex"],
            "responder_short_pubhex": minion_coat["coat_pubhex"],
            "initiator_coat": coat(minion_coat),
            "responder_coat": coat(master_coat),
        })
    json.dump({"source": "raet-go shared vectors road.json (Python RAET)",
               "runs": runs}, sys.stdout, indent=1)
    sys.stdout.write("\n")


main()
