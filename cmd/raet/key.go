package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/internal/daemon"
)

const keyHelp = `usage: raet key [list] [--json] [flags]
       raet key accept|reject|delete [--yes] [--include-rejected | --include-accepted]
                (--all | NAME | GLOB ...) [flags]

Manages the keys of the estates that joined a master, as salt-key does: list
shows the accepted, unaccepted (pending) and rejected keys with their
fingerprints (the first 16 bytes of the SHA-256 of the verify key); accept
takes pending keys (and rejected ones with --include-rejected), reject takes
pending keys (and accepted ones with --include-accepted), delete forgets any
key: that estate must join again and is then pending (auto never).

A running master applies the change at once (through its lane); a stopped
one finds it in its keep when it starts. Changes ask "Proceed? [y/N]" on
standard input unless --yes is given.

flags:
  --json              list: one JSON object with the local key and every key
  --yes, -y           do not ask for confirmation
  --all               every key the action takes (instead of names)
  --include-rejected  accept: rejected keys too
  --include-accepted  reject: accepted keys too
` + toolFlagsHelp + `
Exit status: 0 done; 1 nothing matched, not confirmed, or a change failed;
2 bad flags or configuration.
`

var keyTitles = []struct{ state, title string }{
	{daemon.KeyAccepted, "Accepted Keys:"},
	{daemon.KeyPending, "Unaccepted Keys:"},
	{daemon.KeyRejected, "Rejected Keys:"},
}

func runKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := newTool("raet key")
	asJSON := t.fs.Bool("json", false, "")
	yes := t.fs.Bool("yes", false, "")
	t.fs.BoolVar(yes, "y", false, "")
	all := t.fs.Bool("all", false, "")
	inclRejected := t.fs.Bool("include-rejected", false, "")
	inclAccepted := t.fs.Bool("include-accepted", false, "")
	pos, code := t.parse(args, keyHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	sub := "list"
	if len(pos) > 0 {
		sub, pos = pos[0], pos[1:]
	}
	action, isAction := daemon.ParseKeyAction(sub)
	if sub != "list" && !isAction {
		fmt.Fprintf(stderr, "raet key: unknown action %q: list, accept, reject or delete (see raet key --help)\n", sub)
		return 2
	}
	if !isAction && len(pos) > 0 {
		fmt.Fprintf(stderr, "raet key list: unexpected argument %q\n", pos[0])
		return 2
	}
	if isAction && *all == (len(pos) > 0) {
		fmt.Fprintf(stderr, "raet key %s: name the keys (NAME or GLOB) or give --all, not both\n", action)
		return 2
	}
	cfg, ok := t.config(stderr)
	if !ok {
		return 2
	}
	keep, err := daemon.OpenExistingKeep(cfg.KeepDir)
	if err != nil {
		fmt.Fprintf(stderr, "raet key: %v\n", err)
		return 1
	}
	keys, lerr := daemon.ListKeys(keep)
	if lerr != nil {
		fmt.Fprintf(stderr, "raet key: some keep files cannot be read: %v\n", lerr)
	}
	if !isAction {
		return keyList(keep, keys, *asJSON, stdout, stderr)
	}
	include := (action == daemon.ActionAccept && *inclRejected) || (action == daemon.ActionReject && *inclAccepted)
	targets, err := daemon.SelectKeys(keys, action, pos, include)
	if err != nil {
		fmt.Fprintf(stderr, "raet key %s: %v\n", action, err)
		return 2
	}
	if len(targets) == 0 {
		what := map[daemon.KeyAction]string{daemon.ActionAccept: "pending", daemon.ActionReject: "pending", daemon.ActionDelete: ""}[action]
		if include {
			what = ""
		}
		fmt.Fprintf(stderr, "raet key %s: no %skeys match %s\n", action, strings.TrimSpace(what+" "), describePatterns(pos))
		return 1
	}
	verb := map[daemon.KeyAction]string{daemon.ActionAccept: "accepted", daemon.ActionReject: "rejected", daemon.ActionDelete: "deleted"}[action]
	fmt.Fprintf(stdout, "The following keys are going to be %s:\n", verb)
	writeKeys(stdout, targets, true)
	if !*yes {
		fmt.Fprint(stdout, "Proceed? [y/N] ")
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		answer = strings.ToLower(strings.TrimSpace(answer))
		if answer != "y" && answer != "yes" {
			fmt.Fprintln(stdout, "\nNothing changed.")
			return 1
		}
	}
	names := make([]string, len(targets))
	for i, k := range targets {
		names[i] = k.Name
	}
	c, err := daemon.Dial(context.Background(), cfg)
	failed := 0
	switch {
	case errors.Is(err, daemon.ErrNotRunning):
		for _, n := range names {
			if err := daemon.ApplyKey(keep, n, action); err != nil {
				fmt.Fprintf(stderr, "raet key %s: %s: %v\n", action, n, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "Key for %s %s (in the keep: the master is not running and reads it when it starts).\n", n, verb)
		}
	case err != nil:
		fmt.Fprintf(stderr, "raet key %s: %v; nothing changed\n", action, err)
		return 1
	default:
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := c.Keys(ctx, action, names)
		if err != nil {
			fmt.Fprintf(stderr, "raet key %s: %v\n", action, err)
			return 1
		}
		for _, r := range res {
			if r.Error != "" {
				fmt.Fprintf(stderr, "raet key %s: %s: %s\n", action, r.Name, r.Error)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "Key for %s %s.\n", r.Name, verb)
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func describePatterns(ps []string) string {
	if len(ps) == 0 {
		return "(--all)"
	}
	return strings.Join(ps, " ")
}

// keyList prints the keys by state, as salt-key -L does, with fingerprints.
func keyList(keep *estate.Keep, keys []daemon.Key, asJSON bool, stdout, stderr io.Writer) int {
	var local *daemon.Key
	if l, err := keep.LoadLocal(); err == nil {
		local = &daemon.Key{Name: l.Name, Role: l.Role, State: "local", VerHex: l.VerHex(), PubHex: l.PubHex(),
			Fingerprint: daemon.Fingerprint(l.VerHex())}
	}
	if asJSON {
		out := map[string]any{"local": local, "keys": keys}
		if keys == nil {
			out["keys"] = []daemon.Key{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return 1
		}
		return 0
	}
	if local != nil {
		fmt.Fprintln(stdout, "Local Key:")
		writeKeys(stdout, []daemon.Key{*local}, false)
	}
	for _, sec := range keyTitles {
		fmt.Fprintln(stdout, sec.title)
		var in []daemon.Key
		for _, k := range keys {
			if k.State == sec.state {
				in = append(in, k)
			}
		}
		writeKeys(stdout, in, false)
	}
	return 0
}

func writeKeys(w io.Writer, keys []daemon.Key, withState bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		fp := k.Fingerprint
		if fp == "" {
			fp = "(no key)"
		}
		if withState {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.Name, k.State, fp)
		} else {
			fmt.Fprintf(tw, "  %s\t%s\n", k.Name, fp)
		}
	}
	tw.Flush()
}
