package lane

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// laneVector is one case of testdata/lane.json, written by Python RAET's
// TxBook (see /work/shared/vectors/README.md).
type laneVector struct {
	Name     string          `json:"name"`
	PackKind string          `json:"pack_kind"`
	Body     json.RawMessage `json:"body"`
	Pages    []string        `json:"pages"`
}

func loadVectors(t testing.TB) []laneVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/lane.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []laneVector `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

func (v laneVector) pages(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, h := range v.Pages {
		p, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// generatorOrder is the order gen.py inserted the body's keys in; the
// recorded body has them sorted (json.dump(sort_keys=True)).
var generatorOrder = map[string]int{"route": 0, "src": 1, "dst": 2, "pad": 3}

// inOrder returns v with the keys of every Map sorted by rank.
func inOrder(v any, rank map[string]int) any {
	switch x := v.(type) {
	case Map:
		out := make(Map, len(x))
		for i, p := range x {
			out[i] = Pair{p.Key, inOrder(p.Value, rank)}
		}
		for i := 1; i < len(out); i++ { // insertion sort: stable and short
			for j := i; j > 0 && rank[out[j].Key] < rank[out[j-1].Key]; j-- {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = inOrder(x[i], rank)
		}
		return out
	}
	return v
}

// unordered turns Maps into Go maps, to compare values regardless of key order.
func unordered(v any) any {
	switch x := v.(type) {
	case Map:
		m := make(map[string]any, len(x))
		for _, p := range x {
			m[p.Key] = unordered(p.Value)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = unordered(x[i])
		}
		return out
	}
	return v
}

func TestVectorsEncode(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			kind, err := ParsePackKind(v.PackKind)
			if err != nil {
				t.Fatal(err)
			}
			pages := v.pages(t)
			first, _, err := ParsePage(pages[0])
			if err != nil {
				t.Fatal(err)
			}
			recorded, err := DecodeJSON(v.Body)
			if err != nil {
				t.Fatal(err)
			}
			body, err := AppendBody(nil, kind, inOrder(recorded, generatorOrder))
			if err != nil {
				t.Fatal(err)
			}
			h := Head{Kind: kind, Src: "manor", Dst: first.Dst, Session: first.Session, Book: first.Book}
			got, err := Paginate(&h, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(pages) {
				t.Fatalf("%d pages, want %d", len(got), len(pages))
			}
			for i := range pages {
				if !bytes.Equal(got[i], pages[i]) {
					t.Errorf("page %d differs:\n got %.200q\nwant %.200q", i, got[i], pages[i])
				}
			}
			// The head in front of a Send's body is written by appendHead
			// after headLen reserved room for it: they must agree.
			for i, p := range pages {
				hd, _, _ := ParsePage(p)
				if n := headLen(0, hd.Src, hd.Dst, hd.Session, hd.Book, hd.Page, hd.Pages); !bytes.HasPrefix(p, AppendHead(nil, &hd)) || len(AppendHead(nil, &hd)) != n {
					t.Errorf("page %d: headLen %d, head %q", i, n, AppendHead(nil, &hd))
				}
			}
		})
	}
}

func TestVectorsDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range loadVectors(t) {
		pages := v.pages(t)
		kind, _ := ParsePackKind(v.PackKind)
		recorded, err := DecodeJSON(v.Body)
		if err != nil {
			t.Fatal(err)
		}
		var whole []byte
		for i, p := range pages {
			h, sec, err := ParsePage(p)
			if err != nil {
				t.Fatalf("%s page %d: %v", v.Name, i, err)
			}
			want := Head{Kind: kind, Src: "manor", Dst: h.Dst, Session: h.Session, Book: h.Book, Page: i, Pages: len(pages)}
			if h != want || !strings.HasPrefix(h.Dst, "yard") || len(h.Session) != 18 || h.Book == 0 {
				t.Errorf("%s page %d head %+v", v.Name, i, h)
			}
			whole = append(whole, sec...)
		}
		// Decoding keeps Python's key order, so packing again gives the bytes back.
		m, err := DecodeBody(kind, whole)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(unordered(m), unordered(recorded)) {
			t.Errorf("%s: decoded body differs from the recorded one", v.Name)
		}
		again, err := AppendBody(nil, kind, m)
		if err != nil || !bytes.Equal(again, whole) {
			t.Errorf("%s: repacked body differs: %v", v.Name, err)
		}

		orders := map[string][]int{"forward": {}, "reverse": {}, "shuffled": {}, "duplicates": {}}
		for i := range pages {
			orders["forward"] = append(orders["forward"], i)
			orders["reverse"] = append([]int{i}, orders["reverse"]...)
		}
		orders["shuffled"] = rng.Perm(len(pages))
		orders["duplicates"] = append(append([]int{}, orders["shuffled"]...), orders["forward"]...)
		orders["duplicates"] = append([]int{orders["reverse"][0]}, orders["duplicates"]...)
		if len(pages) == 1 {
			// A single page is a whole message each time it comes.
			orders = map[string][]int{"forward": {0}}
		}
		for name, order := range orders {
			a := newAssembler(DefaultMaxMessageSize, 1<<30, time.Minute, nil)
			got, n, dups := reassemble(t, a, pages, order)
			if n != 1 {
				t.Errorf("%s %s: %d messages completed, want 1", v.Name, name, n)
				continue
			}
			if len(pages) > 1 && name == "duplicates" && dups == 0 {
				t.Errorf("%s %s: no duplicate noticed", v.Name, name)
			}
			if !bytes.Equal(got, whole) {
				t.Errorf("%s %s: reassembled body differs", v.Name, name)
			}
			if a.books() != 0 || a.pending != 0 {
				t.Errorf("%s %s: %d books, %d bytes left", v.Name, name, a.books(), a.pending)
			}
		}
	}
}

// reassemble feeds pages in order to a and returns the last completed body,
// how many completed and how many duplicates were noticed.
func reassemble(t *testing.T, a *assembler, pages [][]byte, order []int) ([]byte, int, int) {
	t.Helper()
	now := time.Unix(1000, 0)
	var body []byte
	done, dups := 0, 0
	for _, i := range order {
		var h rawHead
		off, err := parseHead(pages[i], &h)
		if err != nil {
			t.Fatal(err)
		}
		y := a.yard(&h, now)
		if !h.paginated() {
			body = append([]byte(nil), pages[i][off:]...)
			done++
			continue
		}
		got, err := a.add(y, &h, pages[i][off:], now)
		switch {
		case errors.Is(err, errDuplicatePage):
			dups++
		case err != nil:
			t.Fatal(err)
		case got != nil:
			body = got
			done++
		}
	}
	return body, done, dups
}

func TestParseHeadErrors(t *testing.T) {
	good := "ri RAET\nvn 0\npk 0\nsn a\ndn b\nsi 000000000000000001\nbi 1\npn 0000\npc 0001\n\n{}"
	tests := []struct {
		name string
		page string
		want error
	}{
		{"empty", "", ErrNotRAET},
		{"not raet", "ri TEST\nvn 0\n\n", ErrNotRAET},
		{"json head", `{"ri":"RAET"}` + "\r\n\r\n", ErrNotRAET},
		{"no end", "ri RAET\nvn 0\npk 0\n", ErrNoHeadEnd},
		{"line without space", "ri RAET\nvn0\n\n", ErrHeadLine},
		{"line with two spaces", "ri RAET\nsn a b\n\n", ErrHeadLine},
		{"unknown field", "ri RAET\nzz 1\n\n", ErrUnknownField},
		{"duplicate field", "ri RAET\nbi 1\nbi 2\n\n", ErrDuplicateField},
		{"second ri", "ri RAET\nri RAET\n\n", ErrDuplicateField},
		{"empty number", "ri RAET\nbi \n\n", ErrFieldValue},
		{"not hex", "ri RAET\nbi 1g\n\n", ErrFieldValue},
		{"signed", "ri RAET\nbi -1\n\n", ErrFieldValue},
		{"prefixed", "ri RAET\nbi 0x1\n\n", ErrFieldValue},
		{"too long", "ri RAET\nbi 10000000000000000\n\n", ErrFieldValue},
		{"pack kind 2", "ri RAET\npk 2\n\n", ErrPackKind},
		{"page past count", "ri RAET\npn 0002\npc 0002\n\n", ErrPageNumber},
		{"page count too big", "ri RAET\npc 10000\n\n", ErrPageNumber},
		{"page number too big", "ri RAET\npn 10000\n\n", ErrPageNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParsePage([]byte(tt.page))
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrBadPage) {
				t.Fatalf("err = %v, want %v and ErrBadPage", err, tt.want)
			}
			var he *HeadError
			if !errors.As(err, &he) {
				t.Fatalf("err %T is not a *HeadError", err)
			}
		})
	}
	if _, _, err := ParsePage([]byte(good)); err != nil {
		t.Fatalf("good page: %v", err)
	}
}

func TestParseHeadDefaults(t *testing.T) {
	// Python fills fields a head leaves out from PAGE_DEFAULTS.
	h, body, err := ParsePage([]byte("ri RAET\n\nbody"))
	if err != nil {
		t.Fatal(err)
	}
	want := Head{Session: DefaultSession, Pages: 1}
	if h != want || string(body) != "body" {
		t.Errorf("got %+v %q, want %+v", h, body, want)
	}
	h, _, err = ParsePage([]byte("ri RAET\nsn \ndn y\npk 1\nbi FF\npc 0000\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Head{Kind: PackMsgpack, Dst: "y", Session: DefaultSession, Book: 255}); h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

func TestAppendHeadRoundTrip(t *testing.T) {
	heads := []Head{
		{Src: "a", Dst: "b", Session: "c275f34aed056ad6ea", Book: 1, Pages: 1},
		{Kind: PackMsgpack, Src: "manor", Dst: "yard70000", Session: "96ba43f1cf967feba8", Book: 0xffffffff, Page: 3, Pages: 0x400},
		{Version: 0x12, Src: "x", Dst: "y", Session: "short", Book: 0, Pages: 1},
	}
	for _, h := range heads {
		b := AppendHead(nil, &h)
		if n := headLen(h.Version, h.Src, h.Dst, h.Session, h.Book, h.Page, h.Pages); n != len(b) {
			t.Errorf("headLen = %d, AppendHead wrote %d", n, len(b))
		}
		got, body, err := ParsePage(b)
		if err != nil || got != h || len(body) != 0 {
			t.Errorf("round trip of %+v: %+v %q %v", h, got, body, err)
		}
	}
	// Python writes si with '.18s': longer ids are cut.
	h := Head{Src: "a", Dst: "b", Session: "0123456789abcdef0123", Pages: 1}
	got, _, _ := ParsePage(AppendHead(nil, &h))
	if got.Session != "0123456789abcdef01" {
		t.Errorf("si = %q", got.Session)
	}
}

func TestPaginateSizes(t *testing.T) {
	h := Head{Src: "manor", Dst: "yard1", Session: DefaultSession, Book: 0x2a}
	hl := headLen(0, h.Src, h.Dst, h.Session, h.Book, 0, 1)
	sec := MaxPageSize - hl - 2
	tests := []struct {
		size, pages int
	}{
		{0, 1},
		{MaxPageSize - hl, 1},
		{MaxPageSize - hl + 1, 2},
		{2 * sec, 2},
		{2*sec + 1, 3},
	}
	for _, tt := range tests {
		body := bytes.Repeat([]byte{'x'}, tt.size)
		pages, err := Paginate(&h, body)
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != tt.pages {
			t.Errorf("body of %d: %d pages, want %d", tt.size, len(pages), tt.pages)
		}
		var whole []byte
		for i, p := range pages {
			if len(p) > MaxPageSize {
				t.Errorf("page %d is %d bytes", i, len(p))
			}
			ph, sec, err := ParsePage(p)
			if err != nil || ph.Page != i || ph.Pages != len(pages) {
				t.Errorf("page %d: %+v %v", i, ph, err)
			}
			whole = append(whole, sec...)
		}
		if !bytes.Equal(whole, body) {
			t.Errorf("body of %d does not survive pagination", tt.size)
		}
	}
	if _, pc, err := pageCount(hl, 0xffff*sec); err != nil || pc != 0xffff {
		t.Errorf("0xffff full pages: %d, %v", pc, err)
	}
	if _, _, err := pageCount(hl, 0xffff*sec+1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("more than 0xffff pages: %v", err)
	}
	if _, _, err := pageCount(MaxPageSize, 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("head filling the page: %v", err)
	}
}

// book makes the pages of a message of size bytes with pages of sec bytes.
func testBook(t *testing.T, sn, si string, bi uint64, size, sec int) ([][]byte, []byte) {
	t.Helper()
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	pc := (size + sec - 1) / sec
	var pages [][]byte
	for pn := 0; pn < pc; pn++ {
		h := Head{Src: sn, Dst: "me", Session: si, Book: bi, Page: pn, Pages: pc}
		pages = append(pages, append(AppendHead(nil, &h), body[pn*sec:min((pn+1)*sec, size)]...))
	}
	return pages, body
}

type dropRecord struct {
	yard   string
	reason error
}

func TestAssemblerBounds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	feed := func(a *assembler, page []byte, now time.Time) ([]byte, error) {
		var h rawHead
		off, err := parseHead(page, &h)
		if err != nil {
			t.Fatal(err)
		}
		return a.add(a.yard(&h, now), &h, page[off:], now)
	}

	t.Run("expiry", func(t *testing.T) {
		var drops []dropRecord
		a := newAssembler(1<<20, 1<<20, 10*time.Second, func(y string, got, pages int, r error) { drops = append(drops, dropRecord{y, r}) })
		pages, _ := testBook(t, "src", "s1", 1, 300, 100)
		feed(a, pages[0], t0)
		a.expire(t0.Add(9 * time.Second))
		if a.books() != 1 {
			t.Fatal("expired too early")
		}
		feed(a, pages[1], t0.Add(9*time.Second)) // progress restarts the clock
		a.expire(t0.Add(18 * time.Second))
		if a.books() != 1 {
			t.Fatal("expired despite progress")
		}
		a.expire(t0.Add(19 * time.Second))
		if a.books() != 0 || a.pending != 0 || len(drops) != 1 || drops[0].yard != "src" || !errors.Is(drops[0].reason, ErrBookExpired) {
			t.Fatalf("books %d pending %d drops %v", a.books(), a.pending, drops)
		}
		if len(a.yards) != 0 {
			t.Errorf("idle yard not forgotten")
		}
	})

	t.Run("eviction", func(t *testing.T) {
		var drops []dropRecord
		a := newAssembler(1<<20, 2000, time.Minute, func(y string, got, pages int, r error) { drops = append(drops, dropRecord{y, r}) })
		p1, _ := testBook(t, "one", "s", 1, 3000, 500)
		p2, body2 := testBook(t, "two", "s", 1, 1000, 500)
		feed(a, p1[0], t0)
		feed(a, p1[1], t0)
		feed(a, p2[0], t0.Add(time.Second))
		got, err := feed(a, p2[1], t0.Add(time.Second))
		if err != nil || !bytes.Equal(got, body2) {
			t.Fatalf("second book: %v", err)
		}
		if len(drops) != 1 || drops[0].yard != "one" || !errors.Is(drops[0].reason, ErrBookEvicted) {
			t.Fatalf("drops %v", drops)
		}
		if a.pending > 2000 {
			t.Errorf("pending %d over the bound", a.pending)
		}
	})

	t.Run("too large", func(t *testing.T) {
		a := newAssembler(1000, 1<<20, time.Minute, nil)
		pages, _ := testBook(t, "src", "s", 1, 1500, 500)
		feed(a, pages[0], t0)
		feed(a, pages[1], t0)
		if _, err := feed(a, pages[2], t0); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		if a.books() != 0 || a.pending != 0 {
			t.Errorf("book kept: %d, %d bytes", a.books(), a.pending)
		}
	})

	t.Run("new session drops stale books", func(t *testing.T) {
		var drops []dropRecord
		a := newAssembler(1<<20, 1<<20, time.Minute, func(y string, got, pages int, r error) { drops = append(drops, dropRecord{y, r}) })
		old, _ := testBook(t, "src", "s1", 7, 300, 100)
		fresh, body := testBook(t, "src", "s2", 7, 300, 100)
		feed(a, old[0], t0)
		var got []byte
		for _, p := range fresh {
			got, _ = feed(a, p, t0)
		}
		if !bytes.Equal(got, body) || len(drops) != 1 || !errors.Is(drops[0].reason, ErrBookStale) {
			t.Fatalf("got %d bytes, drops %v", len(got), drops)
		}
	})

	t.Run("mismatched pages", func(t *testing.T) {
		a := newAssembler(1<<20, 1<<20, time.Minute, nil)
		p3, _ := testBook(t, "src", "s", 1, 300, 100)
		p2, _ := testBook(t, "src", "s", 1, 200, 100)
		feed(a, p3[0], t0)
		if _, err := feed(a, p2[1], t0); !errors.Is(err, ErrPageMismatch) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("many books bounded", func(t *testing.T) {
		a := newAssembler(1<<20, 1<<16, time.Minute, nil)
		for bi := uint64(1); bi < 2000; bi++ {
			h := Head{Src: "src", Dst: "me", Session: "s", Book: bi, Page: 0, Pages: 0xffff}
			feed(a, append(AppendHead(nil, &h), 'x'), t0)
			if a.pending > 1<<16 {
				t.Fatalf("pending %d over the bound after %d books", a.pending, bi)
			}
		}
	})
}

func FuzzParsePage(f *testing.F) {
	for _, v := range loadVectors(f) {
		for _, p := range v.pages(f) {
			f.Add(p[:min(len(p), 400)])
		}
	}
	f.Add([]byte("ri RAET\n\n"))
	f.Add([]byte("ri RAET\npn 0002\npc 0002\n\n"))
	f.Add([]byte("ri RAET\nbi 1\nbi 2\n\n"))
	f.Fuzz(func(t *testing.T, page []byte) {
		h, body, err := ParsePage(page)
		if err != nil {
			if !errors.Is(err, ErrBadPage) {
				t.Fatalf("error %v does not match ErrBadPage", err)
			}
			return
		}
		if h.Pages > 1 && h.Page >= h.Pages {
			t.Fatalf("accepted page %d of %d", h.Page, h.Pages)
		}
		if strings.ContainsAny(h.Src+h.Dst+h.Session, " \n") {
			t.Fatalf("names with separators: %+v", h)
		}
		// What we parse, we write back so that it parses the same.
		again := AppendHead(nil, &h)
		h2, rest, err := ParsePage(append(again, body...))
		if len(h.Session) > maxSessionLen {
			h.Session = h.Session[:maxSessionLen]
		}
		if err != nil || h2 != h || !bytes.Equal(rest, body) {
			t.Fatalf("rewrite of %+v gave %+v, %v", h, h2, err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, v := range loadVectors(f) {
		if v.PackKind == "json" && len(v.Pages) == 1 {
			p := v.pages(f)[0]
			f.Add(p[bytes.Index(p, []byte("\n\n"))+2:])
		}
	}
	for _, s := range []string{`{"a":[1,2.5,null,true],"b":"\u00e9\ud83d\ude00"}`, `[NaN,-Infinity,1e400]`, `{"a":1,"a":2}`, `"\ud800"`, `123456789012345678901234567890`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeJSON(data)
		verr := validateJSON(data)
		if (err == nil) != (verr == nil) {
			t.Fatalf("DecodeJSON err %v, validateJSON err %v", err, verr)
		}
		if err != nil {
			if !errors.Is(err, ErrBody) {
				t.Fatalf("error %v does not match ErrBody", err)
			}
			return
		}
		out, err := AppendJSON(nil, v)
		if err != nil {
			t.Fatalf("cannot pack what was decoded (%#v): %v", v, err)
		}
		// Packing is a fixed point: decode and pack again gives the same text.
		v2, err := DecodeJSON(out)
		if err != nil {
			t.Fatalf("cannot decode own output %q: %v", out, err)
		}
		out2, _ := AppendJSON(nil, v2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point: %q then %q", out, out2)
		}
	})
}

func FuzzDecodeMsgpack(f *testing.F) {
	for _, v := range loadVectors(f) {
		if v.PackKind == "pack" && len(v.Pages) == 1 {
			p := v.pages(f)[0]
			f.Add(p[bytes.Index(p, []byte("\n\n"))+2:])
		}
	}
	for _, h := range []string{"81a16101", "82a3753634cfffffffffffffffffa3693634d38000000000000000", "81a179d6ff00000001", "dfffffffff", "81a162c4020001"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeMsgpack(data)
		if len(data) > 0 && isMsgpackMap(data[0]) {
			if verr := validateMsgpackMap(data); (err == nil) != (verr == nil) {
				t.Fatalf("DecodeMsgpack err %v, validate err %v", err, verr)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrBody) {
				t.Fatalf("error %v does not match ErrBody", err)
			}
			return
		}
		out, err := AppendMsgpack(nil, v)
		if err != nil {
			t.Fatalf("cannot pack what was decoded: %v", err)
		}
		v2, err := DecodeMsgpack(out)
		if err != nil {
			t.Fatalf("cannot decode own output %x: %v", out, err)
		}
		if !reflect.DeepEqual(unordered(v), unordered(v2)) && !hasNaN(v) {
			t.Fatalf("round trip changed %#v into %#v", v, v2)
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != x
	case Map:
		for _, p := range x {
			if hasNaN(p.Value) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}
