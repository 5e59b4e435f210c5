package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/raet-go/raet/internal/daemon"
)

// tool is what raet key, publish, request and status share: flags that find
// the master (--config, --name, --keep, --lane-dir), parsed among the
// positional arguments, and its configuration.
type tool struct {
	name string
	fs   *flag.FlagSet
	fl   *daemon.Flags
}

const toolFlagsHelp = `  --config, -c FILE  the master's configuration file: it says where its keep,
                     lane and token are (default: the master's defaults)
  --name NAME        overrides name          --keep DIR       overrides keep_dir
  --lane-dir DIR     overrides lane_dir
`

func newTool(name string) *tool {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &tool{name: name, fs: fs, fl: daemon.NewFlags(fs, daemon.RoleMaster, true)}
}

// parse parses flags anywhere among the arguments and returns the
// positional ones. It reports help (0), bad flags (2) or -1 to go on.
func (t *tool) parse(args []string, usage string, stdout, stderr io.Writer) ([]string, int) {
	var pos []string
	for {
		if err := t.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				return nil, 0
			}
			fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", t.name, err, t.name)
			return nil, 2
		}
		rest := t.fs.Args()
		if len(rest) == 0 {
			return pos, -1
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), -1
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// config loads the master's configuration.
func (t *tool) config(stderr io.Writer) (daemon.Config, bool) {
	cfg, err := t.fl.Load()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", t.name, err)
		return cfg, false
	}
	return cfg, true
}

// dial connects to the running master.
func (t *tool) dial(cfg daemon.Config, stderr io.Writer) (*daemon.Client, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := daemon.Dial(ctx, cfg)
	if err != nil {
		if errors.Is(err, daemon.ErrNotRunning) {
			fmt.Fprintf(stderr, "%s: %v (start it with raet master, or point --config at its configuration)\n", t.name, err)
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", t.name, err)
		}
		return nil, false
	}
	return c, true
}

const statusHelp = `usage: raet status [--json] [flags]

Shows the running master and its remotes: key state, presence (alive, dead
or unknown), when each was last heard from, the age of its session, messages
and bytes in and out, packets resent and messages queued.

flags:
  --json             the status as one JSON object, for scripts
` + toolFlagsHelp + `
Exit status: 0 shown; 1 the master is not running or did not answer; 2 bad flags.
`

func runStatus(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := newTool("raet status")
	asJSON := t.fs.Bool("json", false, "")
	pos, code := t.parse(args, statusHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "raet status: unexpected argument %q\n", pos[0])
		return 2
	}
	cfg, ok := t.config(stderr)
	if !ok {
		return 2
	}
	c, ok := t.dial(cfg, stderr)
	if !ok {
		return 1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "raet status: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return 1
		}
		return 0
	}
	if err := daemon.WriteStatus(stdout, st, time.Now()); err != nil {
		return 1
	}
	return 0
}
