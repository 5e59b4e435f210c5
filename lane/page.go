package lane

import (
	"bytes"
	"fmt"
)

// PackKind says how a message body is packed (the "pk" head field).
type PackKind uint8

// Pack kinds, as Python RAET's raeting.PackKind numbers them.
const (
	PackJSON    PackKind = 0 // json.dumps(body, separators=(',', ':'))
	PackMsgpack PackKind = 1 // msgpack.dumps(body)
)

func (k PackKind) String() string {
	switch k {
	case PackJSON:
		return "json"
	case PackMsgpack:
		return "msgpack"
	}
	return fmt.Sprintf("PackKind(%d)", uint8(k))
}

// ParsePackKind returns the pack kind named "json" or "msgpack" (also "pack",
// Python's name for it).
func ParsePackKind(s string) (PackKind, error) {
	switch s {
	case "json":
		return PackJSON, nil
	case "msgpack", "pack":
		return PackMsgpack, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrPackKind, s)
}

// Sizes fixed by Python RAET (raeting.py).
const (
	// MaxPageSize is the largest page Python RAET sends or reads
	// (UXD_MAX_PACKET_SIZE).
	MaxPageSize = 1<<16 - 1
	// DefaultMaxMessageSize is Python RAET's MAX_MESSAGE_SIZE: 1024 * 65535.
	DefaultMaxMessageSize = 67107840
	// DefaultSession is the session id a head without "si" has.
	DefaultSession = "000000000000000000"
	// maxSessionLen is the width Python writes "si" with ('.18s').
	maxSessionLen = 18
	// maxPages bounds pn and pc, which Python writes as four hex digits.
	maxPages = 0xffff
	// pageSlack is the two bytes Python's paginate leaves unused per page
	// ("extrasize = 2"), so a full page is MaxPageSize - 2 bytes long.
	pageSlack = 2
)

// Head is a page head: which yard sent it to which, the session and book it
// belongs to, and where it sits in its book.
type Head struct {
	Version uint64   // vn, always 0
	Kind    PackKind // pk
	Src     string   // sn: source yard name
	Dst     string   // dn: destination yard name
	Session string   // si: the sender's session id for the destination, at most 18 characters
	Book    uint64   // bi: book (message) id, 1..0xffffffff
	Page    int      // pn: page number, 0-based
	Pages   int      // pc: page count, 1 when the message fits one page
}

// AppendHead appends h as Python RAET's TxHead.pack writes it: every field, in
// the order ri vn pk sn dn si bi pn pc, then a blank line.
func AppendHead(dst []byte, h *Head) []byte {
	return appendHead(dst, h.Version, h.Kind, h.Src, h.Dst, h.Session, h.Book, h.Page, h.Pages)
}

func appendHead(dst []byte, vn uint64, pk PackKind, sn, dn, si string, bi uint64, pn, pc int) []byte {
	if len(si) > maxSessionLen {
		si = si[:maxSessionLen]
	}
	dst = append(dst, "ri RAET\nvn "...)
	dst = appendHex(dst, vn, 0)
	dst = append(dst, "\npk "...)
	dst = appendHex(dst, uint64(pk), 0)
	dst = append(dst, "\nsn "...)
	dst = append(dst, sn...)
	dst = append(dst, "\ndn "...)
	dst = append(dst, dn...)
	dst = append(dst, "\nsi "...)
	dst = append(dst, si...)
	dst = append(dst, "\nbi "...)
	dst = appendHex(dst, bi, 0)
	dst = append(dst, "\npn "...)
	dst = appendHex(dst, uint64(pn), 4)
	dst = append(dst, "\npc "...)
	dst = appendHex(dst, uint64(pc), 4)
	return append(dst, "\n\n"...)
}

// headLen is the length appendHead will write.
func headLen(vn uint64, sn, dn, si string, bi uint64, pn, pc int) int {
	// "ri RAET\n" "vn \n" "pk 0\n" "sn \n" "dn \n" "si \n" "bi \n" "pn \n" "pc " "\n\n"
	return 8 + 4 + hexLen(vn, 0) + 5 + 4 + len(sn) + 4 + len(dn) + 4 + min(len(si), maxSessionLen) + 4 + hexLen(bi, 0) +
		4 + hexLen(uint64(pn), 4) + 3 + hexLen(uint64(pc), 4) + 2
}

func hexLen(v uint64, width int) int {
	n := 1
	for v >= 16 {
		v >>= 4
		n++
	}
	if n < width {
		n = width
	}
	return n
}

func appendHex(dst []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
		if v == 0 {
			break
		}
	}
	for len(tmp)-i < width {
		dst = append(dst, '0')
		width--
	}
	return append(dst, tmp[i:]...)
}

// rawHead is a parsed head whose names point into the page, so that parsing
// allocates nothing.
type rawHead struct {
	vn     uint64
	pk     PackKind
	sn, dn []byte
	si     []byte // nil when the head has no si: DefaultSession
	bi     uint64
	pn, pc int
}

// session returns si as a string (allocates).
func (h *rawHead) session() string {
	if h.si == nil {
		return DefaultSession
	}
	return string(h.si)
}

// sessionIs reports whether si equals s, without allocating.
func (h *rawHead) sessionIs(s string) bool {
	if h.si == nil {
		return s == DefaultSession
	}
	return string(h.si) == s
}

// paginated reports whether the page is one of several, as Python decides it.
func (h *rawHead) paginated() bool { return h.pc > 1 }

const (
	fieldVN = 1 << iota
	fieldPK
	fieldSN
	fieldDN
	fieldSI
	fieldBI
	fieldPN
	fieldPC
)

// parseHead parses the head at the start of page into h and returns the
// offset of the body. Fields the head leaves out take Python's PAGE_DEFAULTS.
// It is stricter than Python's RxHead.parse where Python would crash or
// misread: duplicate fields, signs or prefixes in numbers, pack kinds other
// than 0 and 1, and page numbers outside the page count are errors.
func parseHead(page []byte, h *rawHead) (int, error) {
	*h = rawHead{pc: 1}
	const prefix = "ri RAET\n"
	if len(page) < len(prefix) || string(page[:len(prefix)]) != prefix {
		return 0, headErr("", nil, ErrNotRAET)
	}
	end := bytes.Index(page, []byte("\n\n"))
	if end < 0 {
		return 0, headErr("", nil, ErrNoHeadEnd)
	}
	var rest []byte // lines after "ri RAET", without the final '\n'
	if end >= len(prefix) {
		rest = page[len(prefix):end]
	} // else "ri RAET\n\n": the head is the ri line alone

	var seen int
	for len(rest) > 0 {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 || bytes.IndexByte(line[sp+1:], ' ') >= 0 {
			return 0, headErr("", line, ErrHeadLine)
		}
		key, val := line[:sp], line[sp+1:]
		var bit int
		switch string(key) {
		case "vn":
			bit = fieldVN
		case "pk":
			bit = fieldPK
		case "sn":
			bit = fieldSN
		case "dn":
			bit = fieldDN
		case "si":
			bit = fieldSI
		case "bi":
			bit = fieldBI
		case "pn":
			bit = fieldPN
		case "pc":
			bit = fieldPC
		case "ri":
			return 0, headErr("ri", val, ErrDuplicateField)
		default:
			return 0, headErr("", key, ErrUnknownField)
		}
		if seen&bit != 0 {
			return 0, headErr(string(key), val, ErrDuplicateField)
		}
		seen |= bit
		switch bit {
		case fieldSN:
			h.sn = val
		case fieldDN:
			h.dn = val
		case fieldSI:
			h.si = val
		default:
			n, ok := parseHex(val)
			if !ok {
				return 0, headErr(string(key), val, ErrFieldValue)
			}
			switch bit {
			case fieldVN:
				h.vn = n
			case fieldPK:
				if n > uint64(PackMsgpack) {
					return 0, headErr("pk", val, ErrPackKind)
				}
				h.pk = PackKind(n)
			case fieldBI:
				h.bi = n
			case fieldPN:
				if n > maxPages {
					return 0, headErr("pn", val, ErrPageNumber)
				}
				h.pn = int(n)
			case fieldPC:
				if n > maxPages {
					return 0, headErr("pc", val, ErrPageNumber)
				}
				h.pc = int(n)
			}
		}
	}
	if h.pc > 1 && h.pn >= h.pc {
		return 0, headErr("pn", nil, ErrPageNumber)
	}
	return end + 2, nil
}

// parseHex parses a non-empty run of at most 16 hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// ParsePage parses a page into its head and body. The body aliases page.
// Errors match ErrBadPage.
func ParsePage(page []byte) (Head, []byte, error) {
	var rh rawHead
	off, err := parseHead(page, &rh)
	if err != nil {
		return Head{}, nil, err
	}
	return Head{
		Version: rh.vn,
		Kind:    rh.pk,
		Src:     string(rh.sn),
		Dst:     string(rh.dn),
		Session: rh.session(),
		Book:    rh.bi,
		Page:    rh.pn,
		Pages:   rh.pc,
	}, page[off:], nil
}

// Paginate splits a packed message body into pages as Python RAET's
// TxBook.pack does: one page when head and body fit in MaxPageSize bytes, else
// pages of MaxPageSize-2 bytes (the last one shorter), each with its own head.
// h.Page and h.Pages are ignored. The pages share one backing array.
func Paginate(h *Head, body []byte) ([][]byte, error) {
	buf, offs, err := appendPages(nil, nil, h.Version, h.Kind, h.Src, h.Dst, h.Session, h.Book, body)
	if err != nil {
		return nil, err
	}
	pages := make([][]byte, len(offs))
	start := 0
	for i, end := range offs {
		pages[i] = buf[start:end:end]
		start = end
	}
	return pages, nil
}

// pageCount returns how many body bytes go in each page of a paginated
// message of size bytes whose single-page head would be hl bytes long, and
// how many pages it takes.
func pageCount(hl, size int) (section, pages int, err error) {
	section = MaxPageSize - hl - pageSlack
	if section <= 0 {
		return 0, 0, fmt.Errorf("%w: page head of %d bytes leaves no room for a body", ErrTooLarge, hl)
	}
	pages = (size + section - 1) / section
	if pages > maxPages {
		return 0, 0, fmt.Errorf("%w: %d pages", ErrTooLarge, pages)
	}
	return section, pages, nil
}

// appendPages appends the pages of body to dst and the end offset of each
// page (relative to the start of dst) to offs.
func appendPages(dst []byte, offs []int, vn uint64, pk PackKind, sn, dn, si string, bi uint64, body []byte) ([]byte, []int, error) {
	base := len(dst)
	hl := headLen(vn, sn, dn, si, bi, 0, 1)
	if hl+len(body) <= MaxPageSize {
		dst = appendHead(dst, vn, pk, sn, dn, si, bi, 0, 1)
		dst = append(dst, body...)
		return dst, append(offs, len(dst)-base), nil
	}
	sec, pc, err := pageCount(hl, len(body))
	if err != nil {
		return dst, offs, err
	}
	for pn := 0; pn < pc; pn++ {
		end := min((pn+1)*sec, len(body))
		dst = appendHead(dst, vn, pk, sn, dn, si, bi, pn, pc)
		dst = append(dst, body[pn*sec:end]...)
		offs = append(offs, len(dst)-base)
	}
	return dst, offs, nil
}
