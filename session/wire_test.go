package session

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sizes Python RAET's struct packers give.
func TestSizes(t *testing.T) {
	assert.Equal(t, 200, HelloSize)         // '!64s32s80s24s'
	assert.Equal(t, 64, CookieStuffSize)    // '!32sLL24s'
	assert.Equal(t, 104, CookieSize)        // '!80s24s'
	assert.Equal(t, 232, InitiateStuffSize) // '!32s48s24s128s'
	assert.Equal(t, 328, InitiateSize)      // '!32s24s248s24s'
	assert.Equal(t, 48, VouchSize)
	assert.Equal(t, bytes.Repeat([]byte{'0'}, 64), helloPlain[:])
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// Each parser splits fields at the packer's offsets and Append restores the
// bytes; any other length is ErrBodySize.
func TestParseAppend(t *testing.T) {
	cases := []struct {
		name  string
		size  int
		parse func([]byte) ([]byte, error)
		check func(t *testing.T, b []byte)
	}{
		{"hello", HelloSize, func(b []byte) ([]byte, error) {
			h, err := ParseHello(b)
			return h.Append(nil), err
		}, func(t *testing.T, b []byte) {
			h, _ := ParseHello(b)
			assert.Equal(t, b[:64], h.Plain[:])
			assert.Equal(t, b[64:96], h.ShortKey[:])
			assert.Equal(t, b[96:176], h.Cipher[:])
			assert.Equal(t, b[176:], h.Nonce[:])
		}},
		{"cookie", CookieSize, func(b []byte) ([]byte, error) {
			c, err := ParseCookie(b)
			return c.Append(nil), err
		}, func(t *testing.T, b []byte) {
			c, _ := ParseCookie(b)
			assert.Equal(t, b[:80], c.Cipher[:])
			assert.Equal(t, b[80:], c.Nonce[:])
		}},
		{"cookie stuff", CookieStuffSize, func(b []byte) ([]byte, error) {
			s, err := ParseCookieStuff(b)
			return s.Append(nil), err
		}, func(t *testing.T, b []byte) {
			s, _ := ParseCookieStuff(b)
			assert.Equal(t, b[:32], s.ShortKey[:])
			assert.Equal(t, uint32(b[32])<<24|uint32(b[33])<<16|uint32(b[34])<<8|uint32(b[35]), s.SEID)
			assert.Equal(t, uint32(b[36])<<24|uint32(b[37])<<16|uint32(b[38])<<8|uint32(b[39]), s.DEID)
			assert.Equal(t, b[40:], s.Oreo[:])
		}},
		{"initiate", InitiateSize, func(b []byte) ([]byte, error) {
			in, err := ParseInitiate(b)
			return in.Append(nil), err
		}, func(t *testing.T, b []byte) {
			in, _ := ParseInitiate(b)
			assert.Equal(t, b[:32], in.ShortKey[:])
			assert.Equal(t, b[32:56], in.Oreo[:])
			assert.Equal(t, b[56:304], in.Cipher[:])
			assert.Equal(t, b[304:], in.Nonce[:])
		}},
		{"initiate stuff", InitiateStuffSize, func(b []byte) ([]byte, error) {
			s, err := ParseInitiateStuff(b)
			return s.Append(nil), err
		}, func(t *testing.T, b []byte) {
			s, _ := ParseInitiateStuff(b)
			assert.Equal(t, b[:32], s.LongKey[:])
			assert.Equal(t, b[32:80], s.VouchCipher[:])
			assert.Equal(t, b[80:104], s.VouchNonce[:])
			assert.Equal(t, b[104:], s.FQDN[:])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := pattern(c.size)
			out, err := c.parse(b)
			require.NoError(t, err)
			assert.Equal(t, b, out)
			c.check(t, b)
			for _, n := range []int{0, 1, c.size - 1, c.size + 1, 2 * c.size} {
				_, err := c.parse(pattern(n))
				assert.ErrorIs(t, err, ErrBodySize, "length %d", n)
			}
			_, err = c.parse(nil)
			assert.ErrorIs(t, err, ErrBodySize)
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	h, err := ParseHello(pattern(HelloSize))
	require.NoError(t, err)
	out := h.Append([]byte("head"))
	assert.Equal(t, []byte("head"), out[:4])
	assert.Equal(t, pattern(HelloSize), out[4:])
}

func TestPadFQDN(t *testing.T) {
	long := strings.Repeat("a", 200)
	cases := []struct {
		in, want string
	}{
		{"", ""},
		{"localhost", "localhost"},
		{"host.example.com", "host.example.com"},
		{"bücher.example", "bcher.example"}, // Python encode('ascii', 'ignore')
		{"日本.jp", ".jp"},
		{long, long[:FQDNSize]},
		{"trailing  ", "trailing"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p := PadFQDN(c.in)
			want := c.want + strings.Repeat(" ", FQDNSize-len(c.want))
			if c.in == "trailing  " {
				want = "trailing" + strings.Repeat(" ", FQDNSize-8)
			}
			assert.Equal(t, want, string(p[:]))
			s := InitiateStuff{FQDN: p}
			assert.Equal(t, c.want, s.FQDNString())
		})
	}
}

func TestSameFQDN(t *testing.T) {
	cases := []struct {
		rx, local string
		want      bool
	}{
		{"localhost", "localhost", true},
		{"localhost", "localhost ", true},
		{"localhost", "LOCALHOST", false},
		{"localhost", "localhost.localdomain", false},
		{"", "", true},
		{"bcher.example", "bücher.example", true},
		{strings.Repeat("a", FQDNSize), strings.Repeat("a", 300), true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, SameFQDN(PadFQDN(c.rx), c.local), "%q vs %q", c.rx, c.local)
	}
}
