// Command raet runs RAET stacks and tools: a demo of a master and minions,
// road and lane peers for tests, and packet decoding.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it takes its arguments and returns an exit status.
type command struct {
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	summary string
}

func commands() map[string]command {
	return map[string]command{
		"decode":  {runDecode, "print a packet (hex, file or stdin) as JSON"},
		"encode":  {runEncode, "build a packet from its JSON form and print its hex"},
		"demo":    {runDemo, "run a master and three minions on loopback and show them talk"},
		"lane":    {runLaneIO, "run one lane yard, printing JSON-line events (for tests)"},
		"road":    {runRoad, "run one road estate, printing JSON-line events (for tests)"},
		"dump":    {runDump, "decode a pcap/pcapng capture of RAET traffic"},
		"master":  {runMaster, "run a master daemon (config file, lane for local tools)"},
		"minion":  {runMinion, "run a minion daemon that joins a master and answers requests"},
		"key":     {runKey, "list, accept, reject or delete the keys of a master's estates"},
		"publish": {runPublish, "send an event to the minions through the running master"},
		"request": {runRequest, "call a built-in function on minions through the running master"},
		"status":  {runStatus, "show the running master's remotes and counters"},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: raet COMMAND [flags]   (raet COMMAND --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "raet: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}
