package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	code := runDemo([]string{"--messages", "30", "--big", "200000"}, nil, &out, &errb)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	s := out.String()
	require.Contains(t, s, "all 3 minions joined")
	require.Equal(t, 3, strings.Count(s, "joined and allowed by the master"))
	require.Contains(t, s, "summary")
	require.NotContains(t, s, "\033[", "no terminal escapes when not on a terminal")
}

func TestDemoBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 2, runDemo([]string{"--minions", "0"}, nil, &out, &errb))
	require.Equal(t, 2, runDemo([]string{"--nope"}, nil, &out, &errb))
	require.Equal(t, 0, runDemo([]string{"--help"}, nil, &out, &errb))
}
