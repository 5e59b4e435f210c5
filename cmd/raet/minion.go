package main

import (
	"io"

	"github.com/raet-go/raet/internal/daemon"
)

func runMinion(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runDaemon(daemon.RoleMinion, minionAbout, args, stdout, stderr)
}
