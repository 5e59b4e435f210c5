package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/raet-go/raet/internal/daemon"
)

const masterAbout = `Runs a master: a main estate that minions join, with a yard on a local lane
through which raet key, publish, request and status reach it. It runs until
SIGINT or SIGTERM, then finishes the requests and messages in flight, saves
the keep and exits (a second signal stops it at once).`

const minionAbout = `Runs a minion: an estate that joins its master (the next one listed when one
is unreachable; again, with backoff, when the link breaks) and answers
requests with a few built-in functions; it runs no commands. It runs until
SIGINT or SIGTERM, then finishes the requests in flight, saves the keep and
exits (a second signal stops it at once).`

func runMaster(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runDaemon(daemon.RoleMaster, masterAbout, args, stdout, stderr)
}

// runDaemon is raet master and raet minion: flags and configuration, logs,
// signals, exit status.
func runDaemon(role daemon.Role, about string, args []string, stdout, stderr io.Writer) int {
	name := "raet " + string(role)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	check := fs.Bool("check", false, "")
	fl := daemon.NewFlags(fs, role, false)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s [--config FILE] [--check] [flags]\n\n%s\n\nflags:\n", name, about)
		fmt.Fprintln(w, "  --config, -c FILE  configuration file (YAML); without it the defaults below")
		fmt.Fprintln(w, "  --check            check the configuration, print it with defaults filled in, exit")
		fmt.Fprintln(w, "  the flags named below in brackets override their configuration key")
		fmt.Fprintln(w)
		daemon.WriteOptions(w, role)
		fmt.Fprintln(w, "\nexit status: 0 stopped (messages a dead peer never took by shutdown_timeout are")
		fmt.Fprintln(w, "logged as dropped); 1 could not start, or failed to stop; 2 bad flags or configuration.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", name, err, name)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (see %s --help)\n", name, fs.Arg(0), name)
		return 2
	}
	cfg, err := fl.Load()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if *check {
		if err := cfg.Dump(stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		return 0
	}
	log, closeLog, err := daemon.NewLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var stopper interface{ Stop() error }
	if role == daemon.RoleMaster {
		stopper, err = daemon.StartMaster(cfg, log)
	} else {
		stopper, err = daemon.StartMinion(cfg, log)
	}
	if err != nil {
		log.Error(string(role)+" could not start", "err", err)
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	<-ctx.Done()
	stop() // a second signal now stops the process at once
	log.Info("signal received")
	if err := stopper.Stop(); err != nil {
		return 1
	}
	return 0
}
