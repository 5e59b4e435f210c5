"""Write bodyform.json: bodies as Python packs them, for vectorform_test.go.

Each case is a mapping packed the way Python RAET packs bodies: `json` is
json.dumps(data, separators=(',', ':')) (ensure_ascii on, the default) and
`msgpack_hex` is msgpack.packb(data) (msgpack 1.0: use_bin_type, float64).
`json_only` cases carry strings msgpack cannot pack (lone surrogates) or a
non-mapping; `input` is the text and `json` how Python writes it back. The
32-bit msgpack lengths (65536 items and more) are checked in Go, to keep
this file small.
Run: /usr/bin/python3 bodyform_gen.py > bodyform.json
"""
import json
import sys
from collections import OrderedDict as od

import msgpack

cases = [
    od([("z", 1),
        ("a", [1.0, -0.0, 1e16, 1.5e-7, 0.1, 123456789.125, 2**64 - 1, -2**63, -2**31 - 1, -2**31,
               -32769, -32768, -129, -128, -33, -32, -1, 0, 127, 128, 255, 256, 65535, 65536,
               2**32 - 1, 2**32]),
        ("s", "x" * 31), ("t", "y" * 32), ("u", "w" * 255), ("v", "v" * 256),
        ("e", "\u00e9\U0001F600\x7f\x00\x1f\u2028/<>&'\"\\\n\t\b\f\r\u00ff\uffff")]),
    od([("nested", od([("b", True), ("f", False), ("n", None), ("empty", od()), ("none", [])])),
        ("l", list(range(16))), ("l15", list(range(15))),
        ("m", od((str(i), i) for i in range(16))), ("m15", od((str(i), i) for i in range(15)))]),
    od([("big", float("inf")), ("neg", float("-inf")), ("nan", float("nan"))]),
    od([("route", od([("src", ["minion", "yard", None]), ("dst", ["master", None, "stack"])])),
        ("body", od([("cmd", "ping"), ("id", 7)]))]),
    od([("\u00e9t\u00e9", "\U0010ffff"), ("", "")]),
]
json_only = ['{"a":"\\ud800x\\udc00\\ud83d\\ude00\\u0041\\/\\u00E9"}', '[1,"two",3.5]']

out = {"generator": "bodyform_gen.py", "msgpack": list(msgpack.version), "cases": []}
for c in cases:
    out["cases"].append({"json": json.dumps(c, separators=(",", ":")),
                         "msgpack_hex": msgpack.packb(c).hex()})
for text in json_only:
    out["cases"].append({"input": text,
                         "json": json.dumps(json.loads(text, object_pairs_hook=od), separators=(",", ":"))})
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
