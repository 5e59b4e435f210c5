package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/raet-go/raet/capture"
)

const dumpHelp = `usage: raet dump [flags] FILE

Decode a pcap or pcapng capture (FILE, or - for standard input; gzip is
fine) of RAET road traffic, one line per RAET packet:

  N TIME SRC > DST HEAD TK/PK se=.. de=.. si=.. ti=.. [seg N/M] [FLAGS]
      len=PL head=HL coat=C foot=FL VERIFY COAT

TIME is UTC; seg N/M counts segments from 1; VERIFY is verified:NAME (the
estate whose key checks the foot), unsigned, unverified(no key) or
BAD-SIGNATURE; COAT is plain, empty, decrypted, encrypted (no key),
COAT-DOES-NOT-OPEN, segment, or coat-kind-NAME for a kind dump cannot open.
A known body (plain, decrypted, or a segmented message on the segment that
completes it) follows on its own line, and so do problems (error: ...). A
summary line ends the output.

Fast-mode packets (two raet-go stacks; aead coat) end their line with
epoch=E pn=N (the coat carries them in clear). Opened with the key log, a line lists
their frames:

    frames ack LO-HI,... delay=D max_data=M; data OFFSET+LENGTH; ping; padding xN

and each message the packet completed follows on its own line, once, as
"message @OFFSET BODYKIND BODY": dump rebuilds each direction's stream from
the DATA frames, in whatever order and however often they were captured.
"replayed" marks a datagram seen twice; "dropped=N" messages given up to
bound memory.

flags:
  --json         one JSON object per packet instead: n, time, src, dst, size,
                 truncated, head (every field), head_len, coat_len, foot_len,
                 verified, verify, signer, decrypted, coat, segment, body (in
                 the form raet decode prints), error; for fast-mode packets
                 also epoch, pn, replayed, frames (type padding/count,
                 ping, ack/ranges/delay_us/max_data, data/offset/length),
                 messages (offset, size, bk, body, error) and dropped. The
                 summary goes to standard error.
  --keep DIR     verify signatures with the keys kept in the keep directory
                 DIR (Python RAET's layout, as road stacks keep it). Repeat it
                 for each estate: a keep verifies the packets its estate sent
                 and those sent to it by the remotes it knows.
  --keylog FILE  open coats with the session keys a stack logged to FILE
                 (road.Config.KeyLog, or the file named by RAET_KEYLOGFILE).
                 Segmented messages are shown once all segments are seen;
                 fast-mode packets are opened and their messages shown.
  --port N       UDP port carrying RAET (default 7530); repeat for several.
                 Other traffic on these ports is reported as not RAET.
  --any-port     also decode datagrams on any port that start like RAET
  --max-body N   cut bodies after N bytes in the text output (default 512,
                 0 for no limit)
  --help         show this help

Progress is shown on standard error when it is a terminal.

Exit status: 0 the whole file was read; 1 the file cannot be read, is not a
capture, or is corrupt or truncated (what could be read is printed first);
2 bad flags, or a keep or key log that cannot be read.
`

// dumpOpts are raet dump's flags.
type dumpOpts struct {
	json    bool
	keeps   []string
	keylog  string
	ports   []uint16
	anyPort bool
	maxBody int
}

func parseDumpArgs(args []string, stdout, stderr io.Writer) (*dumpOpts, []string, int) {
	o := &dumpOpts{maxBody: 512}
	fs := flag.NewFlagSet("raet dump", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.json, "json", false, "")
	fs.Func("keep", "", func(s string) error { o.keeps = append(o.keeps, s); return nil })
	fs.StringVar(&o.keylog, "keylog", "", "")
	fs.Func("port", "", func(s string) error {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return fmt.Errorf("not a port number: %q", s)
		}
		o.ports = append(o.ports, uint16(p))
		return nil
	})
	fs.BoolVar(&o.anyPort, "any-port", false, "")
	fs.IntVar(&o.maxBody, "max-body", o.maxBody, "")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, dumpHelp)
				return nil, nil, 0
			}
			fmt.Fprintf(stderr, "raet dump: %v\n%s", err, dumpHelp)
			return nil, nil, 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if o.maxBody < 0 {
		fmt.Fprintf(stderr, "raet dump: --max-body must not be negative\n")
		return nil, nil, 2
	}
	return o, pos, -1
}

// dumpIsTerminal reports whether w is a terminal (a character device).
func dumpIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// runDump is the dump command: see dumpHelp.
func runDump(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, pos, status := parseDumpArgs(args, stdout, stderr)
	if status >= 0 {
		return status
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "raet dump: want one capture file (got %d arguments)\n%s", len(pos), dumpHelp)
		return 2
	}
	warn := func(format string, a ...any) { fmt.Fprintf(stderr, "raet dump: "+format+"\n", a...) }

	cfg := capture.Config{Ports: o.ports, AnyPort: o.anyPort}
	if len(o.keeps) > 0 {
		cfg.Keys = capture.NewKeyring()
		for _, dir := range o.keeps {
			if err := cfg.Keys.AddKeep(dir); err != nil {
				if !errors.Is(err, capture.ErrKeepPartly) {
					warn("--keep: %v", err)
					return 2
				}
				warn("--keep: %v (the rest of the keep is used)", err)
			}
		}
	}
	if o.keylog != "" {
		f, err := os.Open(o.keylog)
		if err != nil {
			warn("--keylog: %v", err)
			return 2
		}
		kl, err := capture.ReadKeyLog(f)
		f.Close()
		if err != nil {
			warn("--keylog %s: %v", o.keylog, err)
			return 2
		}
		skipped := kl.Skipped()
		for i, s := range skipped {
			if i == 5 {
				warn("--keylog %s: %d more bad lines ignored", o.keylog, len(skipped)-i)
				break
			}
			warn("--keylog %s: %s (ignored)", o.keylog, s)
		}
		if len(kl.Sessions()) == 0 {
			warn("--keylog %s: no sessions in it", o.keylog)
		}
		cfg.KeyLog = kl
	}

	name := pos[0]
	var in io.Reader
	var size int64
	if name == "-" {
		in = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			warn("%v", err)
			return 1
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	cr := &countingReader{r: in}
	rd, err := capture.NewReader(cr)
	if err != nil {
		warn("%s: %v", name, err)
		return 1
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	var progress *dumpProgress
	if dumpIsTerminal(stderr) {
		progress = &dumpProgress{w: stderr, size: size, every: 200 * time.Millisecond, last: time.Now()}
	}
	a := capture.NewAnalyzer(cfg)
	frames := 0
	status = 0
	linkWarned := false
	var line []byte
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = out.Flush()
			progress.clear()
			warn("%s: %v", name, err)
			status = 1
			break
		}
		frames++
		if frames%256 == 0 {
			progress.update(frames, a.Stats().RAET, cr.n)
		}
		if !f.UDP {
			if errors.Is(f.Err, capture.ErrLinkType) && !linkWarned {
				linkWarned = true
				warn("%s: frame %d: %v (such frames are skipped)", name, f.N, f.Err)
			}
			continue
		}
		rec, ok := a.Datagram(f.Datagram())
		if !ok {
			continue
		}
		if o.json {
			line = rec.AppendJSON(line[:0])
		} else {
			line = rec.AppendText(line[:0], o.maxBody)
		}
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			warn("writing output: %v", err)
			return 1
		}
	}
	progress.clear()
	st := a.Stats()
	summary := fmt.Sprintf("%d packets, %d RAET packets, %d verified, %d decrypted, %d errors", frames, st.RAET, st.Verified, st.Decrypted, st.Errors)
	if st.FastMessages > 0 {
		summary += fmt.Sprintf(", %d fast-mode messages", st.FastMessages)
	}
	if st.Unfinished > 0 {
		summary += fmt.Sprintf(", %d segmented messages incomplete", st.Unfinished)
	}
	if st.FastUnfinished > 0 {
		summary += fmt.Sprintf(", %d fast-mode streams missing bytes", st.FastUnfinished)
	}
	if st.Evicted > 0 {
		summary += fmt.Sprintf(", %d dropped unfinished (memory bound)", st.Evicted)
	}
	if status != 0 {
		summary += " (capture file damaged: stopped early)"
	}
	if o.json {
		if err := out.Flush(); err != nil {
			warn("writing output: %v", err)
			return 1
		}
		fmt.Fprintln(stderr, summary)
	} else {
		fmt.Fprintln(out, summary)
		if err := out.Flush(); err != nil {
			warn("writing output: %v", err)
			return 1
		}
	}
	return status
}

// dumpProgress shows how far the dump got on one terminal line, rewritten at
// most every so often, and clears it at the end. A nil one shows nothing.
type dumpProgress struct {
	w     io.Writer
	size  int64 // file size, 0 when unknown (standard input)
	every time.Duration
	last  time.Time
	shown bool
}

func (p *dumpProgress) update(frames, raet int, read int64) {
	if p == nil || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	p.shown = true
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r\033[Kraet dump: %d%%, %d packets, %d RAET", min(read*100/p.size, 100), frames, raet)
	} else {
		fmt.Fprintf(p.w, "\r\033[Kraet dump: %d packets, %d RAET", frames, raet)
	}
}

func (p *dumpProgress) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
