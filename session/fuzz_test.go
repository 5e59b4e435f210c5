package session

import (
	"bytes"
	"errors"
	"testing"
)

// seedBodies adds the recorded Python bodies of kind to f's corpus, with a
// few truncations and extensions.
func seedBodies(f *testing.F, pick func(vecRun) vecPacket) {
	for _, run := range loadRuns(f) {
		b := pick(run).body(f)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(append([]byte(nil), b...), 0))
	}
	f.Add([]byte{})
}

func checkRoundTrip(t *testing.T, body []byte, size int, err error, out func() []byte) {
	if len(body) != size {
		if !errors.Is(err, ErrBodySize) {
			t.Fatalf("length %d: err %v, want ErrBodySize", len(body), err)
		}
		return
	}
	if err != nil {
		t.Fatalf("length %d: %v", len(body), err)
	}
	if got := out(); !bytes.Equal(got, body) {
		t.Fatalf("round trip changed the body")
	}
}

func FuzzParseHello(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Hello })
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := ParseHello(body)
		checkRoundTrip(t, body, HelloSize, err, func() []byte { return h.Append(nil) })
	})
}

func FuzzParseCookie(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Cookie })
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCookie(body)
		checkRoundTrip(t, body, CookieSize, err, func() []byte { return c.Append(nil) })
		s, err := ParseCookieStuff(body)
		checkRoundTrip(t, body, CookieStuffSize, err, func() []byte { return s.Append(nil) })
	})
}

func FuzzParseInitiate(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Initiate })
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := ParseInitiate(body)
		checkRoundTrip(t, body, InitiateSize, err, func() []byte { return in.Append(nil) })
		s, err := ParseInitiateStuff(body)
		checkRoundTrip(t, body, InitiateStuffSize, err, func() []byte { return s.Append(nil) })
		_ = s.FQDNString()
	})
}

// wantKnown fails unless err is one of this package's errors.
func wantKnown(t *testing.T, err error, known ...error) {
	for _, k := range known {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("unexpected error %v", err)
}

// The Python master's responder answering arbitrary hellos.
func FuzzResponderHello(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Hello })
	run := loadRuns(f)[0]
	resp, err := NewResponder(ResponderConfig{Key: privKey(f, run.Estates["master"].Prihex), Now: newFakeClock().Now})
	if err != nil {
		f.Fatal(err)
	}
	peer := Peer{Key: key32(f, run.Estates["minion"].Pubhex), NUID: 2, FUID: 2}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := resp.AppendCookie([]byte("x"), body, peer)
		if err != nil {
			wantKnown(t, err, ErrBodySize, ErrBoxOpen, ErrHelloMismatch, ErrWeakKey)
			if string(out) != "x" {
				t.Fatalf("dst changed on error")
			}
			return
		}
		if len(out) != 1+CookieSize {
			t.Fatalf("cookie of %d bytes", len(out)-1)
		}
	})
}

// The Python minion's initiator (its recorded short-term key) processing
// arbitrary cookies.
func FuzzInitiatorCookie(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Cookie })
	run := loadRuns(f)[0]
	minion := privKey(f, run.Estates["minion"].Prihex)
	short := privKey(f, run.InitiatorShortPrihex)
	peer := Peer{Key: key32(f, run.Estates["master"].Pubhex), NUID: run.Hello.SE, FUID: run.Hello.DE}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := NewInitiator(minion, peer, readerOf(short))
		if err != nil {
			t.Fatal(err)
		}
		if err := in.ProcessCookie(body); err != nil {
			wantKnown(t, err, ErrBodySize, ErrBoxOpen, ErrUIDMismatch, ErrWeakKey)
			if _, err := in.Session(); !errors.Is(err, ErrNoCookie) {
				t.Fatalf("session after a bad cookie: %v", err)
			}
			return
		}
		if b, err := in.AppendInitiate(nil); err != nil || len(b) != InitiateSize {
			t.Fatalf("initiate after a good cookie: %d bytes, %v", len(b), err)
		}
	})
}

// A Go responder opening arbitrary initiates, seeded with valid ones.
func FuzzResponderInitiate(f *testing.F) {
	seedBodies(f, func(r vecRun) vecPacket { return r.Initiate })
	p := newPair(f, 42, ResponderConfig{MaxReplay: 1 << 20})
	for i := range 3 {
		_, _, _, initiate := p.handshake(f, seeded(uint64(4200+i)))
		f.Add(initiate)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := p.resp.OpenInitiate(body, p.bobSeesAlice)
		if err != nil && !errors.Is(err, ErrReplay) {
			wantKnown(t, err, ErrBodySize, ErrCookieStale, ErrCookieInvalid, ErrBoxOpen,
				ErrKeyMismatch, ErrVouch, ErrWeakKey)
			if a != nil {
				t.Fatalf("allowed with error %v", err)
			}
			return
		}
		if a == nil || a.Session == nil || a.Session.Box == nil {
			t.Fatalf("no session without error")
		}
	})
}
