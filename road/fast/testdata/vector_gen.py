"""Write vector.json: fast-mode keys and packets made from the package doc alone.

An independent reading of road/fast/doc.go (and header/header.go's binary
head) in Python, with the `cryptography` package for HKDF-SHA256 and
ChaCha20-Poly1305. vector_test.go checks the Go code makes and takes the same
bytes.
Run: /usr/bin/python3 vector_gen.py > vector.json
"""
import hashlib
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = b"RAET fast mode v1"


def hkdf(ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(ikm)


def key0(shared, pub_from, pub_to):
    return hkdf(shared, b"raet fast key" + pub_from + pub_to)


def key_next(prev, epoch):
    return hkdf(prev, b"raet fast rekey" + struct.pack(">I", epoch))


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def head(se, de, si, coat_len):
    """Binary head, 4-byte ids: the fast-mode field values of the doc."""
    hl = 44
    pl = hl + coat_len
    b = bytearray(hl)
    b[0] = 0xD2
    b[1] = 0x00          # layout 0, no options
    b[2] = 0             # vn
    b[3] = 0             # pk message
    b[4] = 0             # tk message
    b[5] = (2 << 4) | 4  # bk raw, ck aead
    b[6] = 0             # fk
    b[7] = 0             # fg
    b[8] = hl
    b[9] = 0
    struct.pack_into(">H", b, 10, 0)   # fl
    struct.pack_into(">I", b, 12, pl)
    struct.pack_into(">H", b, 16, 0)   # sn
    struct.pack_into(">H", b, 18, 1)   # sc
    struct.pack_into(">I", b, 20, 0)   # ml
    struct.pack_into(">IIIII", b, 24, se, de, si, 0, 0)  # se de si ti oi
    return bytes(b)


def seal(key, se, de, si, epoch, pn, frames):
    coat_len = 12 + len(frames) + 16
    h = head(se, de, si, coat_len)
    prefix = struct.pack(">IQ", epoch, pn)
    nonce = b"\x00" * 4 + struct.pack(">Q", pn)
    ad = h + prefix
    return ad + ChaCha20Poly1305(key).encrypt(nonce, frames, ad)


def data(off, b):
    return b"\x03" + uvarint(off) + uvarint(len(b)) + b


def ack(largest, delay, max_data, ranges):
    """ranges: inclusive (lo, hi), highest first."""
    out = b"\x02" + uvarint(largest) + uvarint(delay) + uvarint(max_data)
    out += uvarint(len(ranges) - 1) + uvarint(ranges[0][1] - ranges[0][0])
    prev_lo = ranges[0][0]
    for lo, hi in ranges[1:]:
        out += uvarint(prev_lo - hi - 2) + uvarint(hi - lo)
        prev_lo = lo
    return out


shared = hashlib.sha256(b"vector shared").digest()
pub_a = hashlib.sha256(b"vector pub A").digest()
pub_b = hashlib.sha256(b"vector pub B").digest()
se_a, se_b, si = 5, 9, 3

k_ab = [key0(shared, pub_a, pub_b)]
k_ba = [key0(shared, pub_b, pub_a)]
for e in (1, 2):
    k_ab.append(key_next(k_ab[-1], e))
    k_ba.append(key_next(k_ba[-1], e))

msgs = [b"hello", b"", bytes(range(200)), b"x" * 300]
stream = b"".join(uvarint(len(m)) + m for m in msgs)

# What a Go session A sends first after Send(msgs...): one DATA frame.
first = seal(k_ab[0], se_a, se_b, si, 0, 0, data(0, stream))

# A packet B must take: epoch 1, pn 3, the stream in two DATA frames out of
# order, a PING and padding.
cut = 100
frames = data(cut, stream[cut:]) + b"\x01" + data(0, stream[:cut]) + b"\x00" * 3
second = seal(k_ab[1], se_a, se_b, si, 1, 3, frames)

ack_ranges = [(95, 100), (90, 92), (50, 50), (0, 3)]
ack_frame = ack(100, 250, 1000000, ack_ranges)

print(json.dumps({
    "shared": shared.hex(), "pub_a": pub_a.hex(), "pub_b": pub_b.hex(),
    "se_a": se_a, "se_b": se_b, "si": si,
    "keys_ab": [k.hex() for k in k_ab], "keys_ba": [k.hex() for k in k_ba],
    "messages": [m.hex() for m in msgs],
    "first_packet": first.hex(),
    "epoch1_packet": second.hex(),
    "ack_frame": ack_frame.hex(),
    "ack_ranges": [list(r) for r in ack_ranges],
}, indent=1))
