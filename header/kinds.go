package header

import "strconv"

// HeadKind says how a packet's head is encoded.
type HeadKind uint8

// Head kinds: Python RAET writes native and JSON heads; binary is this project's own.
const (
	HeadRAET   HeadKind = 0 // native "ri RAET\n...\n\n" lines
	HeadJSON   HeadKind = 1 // {"ri":"RAET",...}\r\n\r\n
	HeadBinary HeadKind = 2 // fixed layout, see the package doc
)

// BodyKind says how a packet's body is serialised.
type BodyKind uint8

// Body kinds.
const (
	BodyNada    BodyKind = 0
	BodyJSON    BodyKind = 1
	BodyRaw     BodyKind = 2
	BodyMsgpack BodyKind = 3
)

// CoatKind says how a packet's body is encrypted.
type CoatKind uint8

// Coat kinds. Python RAET names crc16 and crc64 coats but never implements them;
// aead is this project's own, the ChaCha20-Poly1305 coat of fast mode (road/fast).
const (
	CoatNada  CoatKind = 0
	CoatNacl  CoatKind = 1
	CoatCRC16 CoatKind = 2
	CoatCRC64 CoatKind = 3
	CoatAEAD  CoatKind = 4
)

// FootKind says how a packet is signed.
type FootKind uint8

// Foot kinds. Python RAET names sha2 and crc64 feet but never implements them.
const (
	FootNada  FootKind = 0
	FootNacl  FootKind = 1
	FootSHA2  FootKind = 2
	FootCRC64 FootKind = 3
)

// TrnsKind is the kind of transaction a packet belongs to.
type TrnsKind uint8

// Transaction kinds.
const (
	TrnsMessage TrnsKind = 0
	TrnsJoin    TrnsKind = 1
	TrnsBind    TrnsKind = 2
	TrnsAllow   TrnsKind = 3
	TrnsAlive   TrnsKind = 4
)

// PcktKind is the kind of a packet within its transaction.
type PcktKind uint8

// Packet kinds, 0 to 15.
const (
	PcktMessage   PcktKind = 0
	PcktAck       PcktKind = 1
	PcktNack      PcktKind = 2
	PcktResend    PcktKind = 3
	PcktRequest   PcktKind = 4
	PcktResponse  PcktKind = 5
	PcktHello     PcktKind = 6
	PcktCookie    PcktKind = 7
	PcktInitiate  PcktKind = 8
	PcktUnjoined  PcktKind = 9
	PcktUnallowed PcktKind = 10
	PcktRenew     PcktKind = 11
	PcktRefuse    PcktKind = 12
	PcktReject    PcktKind = 13
	PcktPend      PcktKind = 14
	PcktDone      PcktKind = 15
)

// FootSize returns the foot length in bytes for a foot kind (0 when unknown).
func (k FootKind) Size() int {
	switch k {
	case FootNacl:
		return 64
	case FootSHA2:
		return 256
	case FootCRC64:
		return 8
	}
	return 0
}

var (
	headKindNames = []string{"raet", "json", "binary"}
	bodyKindNames = []string{"nada", "json", "raw", "msgpack"}
	coatKindNames = []string{"nada", "nacl", "crc16", "crc64", "aead"}
	footKindNames = []string{"nada", "nacl", "sha2", "crc64"}
	trnsKindNames = []string{"message", "join", "bind", "allow", "alive"}
	pcktKindNames = []string{"message", "ack", "nack", "resend", "request", "response",
		"hello", "cookie", "initiate", "unjoined", "unallowed", "renew", "refuse",
		"reject", "pend", "done"}
)

func kindName(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return "unknown(" + strconv.Itoa(int(v)) + ")"
}

func kindByName(names []string, s string) (uint8, bool) {
	for i, n := range names {
		if n == s {
			return uint8(i), true
		}
	}
	return 0, false
}

func (k HeadKind) String() string { return kindName(headKindNames, uint8(k)) }
func (k BodyKind) String() string { return kindName(bodyKindNames, uint8(k)) }
func (k CoatKind) String() string { return kindName(coatKindNames, uint8(k)) }
func (k FootKind) String() string { return kindName(footKindNames, uint8(k)) }
func (k TrnsKind) String() string { return kindName(trnsKindNames, uint8(k)) }
func (k PcktKind) String() string { return kindName(pcktKindNames, uint8(k)) }

// Valid reports whether k is a kind the protocol defines.
func (k HeadKind) Valid() bool { return int(k) < len(headKindNames) }

// Valid reports whether k is a kind the protocol defines.
func (k BodyKind) Valid() bool { return int(k) < len(bodyKindNames) }

// Valid reports whether k is a kind the protocol defines.
func (k CoatKind) Valid() bool { return int(k) < len(coatKindNames) }

// Valid reports whether k is a kind the protocol defines.
func (k FootKind) Valid() bool { return int(k) < len(footKindNames) }

// Valid reports whether k is a kind the protocol defines.
func (k TrnsKind) Valid() bool { return int(k) < len(trnsKindNames) }

// Valid reports whether k is a kind the protocol defines.
func (k PcktKind) Valid() bool { return int(k) < len(pcktKindNames) }

// ParseBodyKind returns the body kind with the given name (nada, json, raw, msgpack).
func ParseBodyKind(s string) (BodyKind, bool) {
	v, ok := kindByName(bodyKindNames, s)
	return BodyKind(v), ok
}

// ParseHeadKind returns the head kind with the given name (raet, json, binary).
func ParseHeadKind(s string) (HeadKind, bool) {
	v, ok := kindByName(headKindNames, s)
	return HeadKind(v), ok
}

// ParsePcktKind returns the packet kind with the given name.
func ParsePcktKind(s string) (PcktKind, bool) {
	v, ok := kindByName(pcktKindNames, s)
	return PcktKind(v), ok
}

// ParseTrnsKind returns the transaction kind with the given name.
func ParseTrnsKind(s string) (TrnsKind, bool) {
	v, ok := kindByName(trnsKindNames, s)
	return TrnsKind(v), ok
}
