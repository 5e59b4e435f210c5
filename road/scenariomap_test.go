package road

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/raet-go/raet/internal/pyraet"
	"github.com/stretchr/testify/require"
)

// TestScenarioMap checks road/testdata/scenarios.md: every Python road test
// listed in python_road_tests.txt has a row; every row names a Go test of
// this package (or of the package it names) that exists, or says why none
// applies. With RAET_PYTHONPATH set, the list is made again from the Python
// sources and must be the one kept here.
func TestScenarioMap(t *testing.T) {
	listed := readLines(t, filepath.Join("testdata", "python_road_tests.txt"))
	require.Len(t, listed, 265)

	rows := map[string]string{} // "file name" → Go test cell
	var file string
	md, err := os.Open(filepath.Join("testdata", "scenarios.md"))
	require.NoError(t, err)
	defer md.Close()
	sc := bufio.NewScanner(md)
	head := regexp.MustCompile(`^## (test_\w+\.py) \((\d+) tests\)`)
	for sc.Scan() {
		line := sc.Text()
		if m := head.FindStringSubmatch(line); m != nil {
			file = m[1]
			continue
		}
		if !strings.HasPrefix(line, "| test") {
			continue
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 4, line)
		key := file + " " + strings.TrimSpace(cells[1])
		_, dup := rows[key]
		require.False(t, dup, "%s mapped twice", key)
		rows[key] = strings.TrimSpace(cells[2])
	}
	require.NoError(t, sc.Err())

	// The Go tests of this package and the subtest names they use.
	src := ""
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		src += string(b)
	}
	for _, key := range listed {
		goTest, ok := rows[key]
		require.True(t, ok, "%s is not in scenarios.md", key)
		require.NotEmpty(t, goTest, key)
		if strings.HasPrefix(goTest, "n/a") {
			continue
		}
		if strings.Contains(goTest, "(package ") {
			pkg := goTest[strings.Index(goTest, "(package ")+9 : strings.Index(goTest, ")")]
			fn := goTest[strings.Index(goTest, ".")+1 : strings.Index(goTest, " ")]
			other, err := filepath.Glob(filepath.Join("..", pkg, "*_test.go"))
			require.NoError(t, err)
			found := false
			for _, f := range other {
				b, _ := os.ReadFile(f)
				found = found || strings.Contains(string(b), "func "+fn+"(")
			}
			require.True(t, found, "%s: %s not found in package %s", key, fn, pkg)
			continue
		}
		top, sub, _ := strings.Cut(goTest, "/")
		require.True(t, strings.Contains(src, "func "+top+"(t *testing.T)"), "%s: no Go test %s", key, top)
		if sub != "" {
			require.True(t, strings.Contains(src, `"`+sub+`"`), "%s: no subtest %s", key, goTest)
		}
	}
	require.Len(t, rows, len(listed), "scenarios.md maps tests that are not listed")

	if pyraet.Check() == nil {
		out, err := exec.Command("sh", filepath.Join("testdata", "pytests.sh"), os.Getenv(pyraet.Env)).CombinedOutput()
		require.NoError(t, err, string(out))
		require.Equal(t, listed, readLines(t, filepath.Join("testdata", "python_road_tests.txt")),
			"python_road_tests.txt is not what the Python sources list")
	}
}

func readLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}
