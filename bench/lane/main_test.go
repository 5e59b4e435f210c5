package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the echo peer it re-executes.
func TestMain(m *testing.M) {
	if k := os.Getenv(childEnv); k != "" {
		os.Exit(runChild(k, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestShortRun runs every transport briefly, one in flight and pipelined,
// and checks that every row measured something.
func TestShortRun(t *testing.T) {
	o := options{Duration: 100 * time.Millisecond, Warmup: 10 * time.Millisecond, Rounds: 2, Size: 64, Depth: 4, Transports: allTransports}
	var out bytes.Buffer
	if _, err := run(o, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, "failed") {
		t.Fatalf("a row failed:\n%s", text)
	}
	for _, want := range []string{"unixgram echo (ceiling)", "lane Send/Receive, Direct", "lane Send/Recv channel",
		"raet.Node Request over a lane", "Pipelined, 4 requests in flight", "% of the ceiling"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestJSONBodyAndStamp(t *testing.T) {
	for _, size := range []int{minSize, 64, 1000} {
		b, at := jsonBody(size)
		if len(b) != size || !bytes.HasPrefix(b, []byte(`{"t":"`)) || !bytes.HasSuffix(b, []byte(`"}`)) {
			t.Fatalf("jsonBody(%d) = %q", size, b)
		}
		st := stamper{time.Now().Add(-time.Hour)}
		st.put(b[at:])
		age, err := st.age(b[at:])
		if err != nil || age < 0 || age > time.Minute {
			t.Fatalf("age %v, %v", age, err)
		}
	}
	if _, err := (stamper{}).age([]byte("zzzzzzzzzzzzzzzz")); err == nil {
		t.Error("damaged stamp accepted")
	}
}
