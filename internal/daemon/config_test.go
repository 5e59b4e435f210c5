package daemon

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		role Role
		yaml string
		line int
		want string
	}{
		{"malformed", RoleMaster, "name: master\nlisten: [\n", 2, "did not find expected"},
		{"bad mapping", RoleMaster, "name: master\n  auto: : never\n", 2, "mapping values are not allowed"},
		{"unknown key", RoleMaster, "name: master\nlisten: 127.0.0.1:1\nlistn: x\n", 3, `unknown key "listn"`},
		{"unknown nested key", RoleMinion, "log:\n  level: info\n  levle: debug\n", 3, `unknown key "levle"`},
		{"minion key in master", RoleMaster, "name: m\nmasters: [a:1]\n", 2, "masters: not a master option"},
		{"master key in minion", RoleMinion, "lane_dir: /tmp/x\n", 1, "lane_dir: not a minion option"},
		{"duration as number", RoleMaster, "alive_period: 10\n", 1, `"10" is not a duration`},
		{"duration garbage", RoleMaster, "\n\njoin_timeout: soon\n", 3, `"soon" is not a duration`},
		{"list as scalar", RoleMinion, "masters: 127.0.0.1:7530\n", 1, "not a list of strings"},
		{"bool", RoleMaster, "mutable: perhaps\n", 1, "not true or false"},
		{"bad auto", RoleMaster, "name: m\nauto: sometimes\n", 2, `auto: "sometimes" is not never, once or always`},
		{"bad listen", RoleMaster, "listen: 7530\n", 1, "listen:"},
		{"bad log format", RoleMaster, "log:\n  format: xml\n", 2, "log.format"},
		{"no masters", RoleMinion, "masters: []\n", 1, "at least one master"},
		{"bad master", RoleMinion, "masters: [host]\n", 1, `"host" is not HOST:PORT`},
		{"unknown function", RoleMinion, "functions: [cmd.run]\n", 1, "matches no built-in function"},
		{"zero timeout", RoleMaster, "shutdown_timeout: 0s\n", 1, "must be more than 0"},
		{"backoff", RoleMinion, "backoff_min: 10s\nbackoff_max: 1s\n", 1, "backoff_min"},
		{"tab", RoleMaster, "log:\n\tlevel: info\n", 2, "tab"},
		{"two documents", RoleMaster, "name: a\n---\nname: b\n", 0, "more than one YAML document"},
		{"not a mapping", RoleMaster, "- a\n- b\n", 1, "must be a mapping"},
		{"bad name", RoleMaster, "name: a b\n", 1, "cannot name an estate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml), "test.yaml", tc.role)
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			require.Contains(t, err.Error(), tc.want)
			if tc.line > 0 {
				require.Equal(t, tc.line, ce.Line, "%v", err)
				require.Contains(t, err.Error(), "test.yaml:")
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, empty := range []string{"", "# nothing\n", "---\n", "~\n"} {
		cfg, err := ParseConfig([]byte(empty), "x", RoleMaster)
		require.NoError(t, err, "%q", empty)
		require.Equal(t, Defaults(RoleMaster), cfg)
	}
	cfg, err := ParseConfig([]byte("name: web1\nmasters: [a:1, b:2]\nalive_period: 500ms\nfunctions: [test.*]\n"), "x", RoleMinion)
	require.NoError(t, err)
	require.Equal(t, "web1", cfg.Name)
	require.Equal(t, []string{"a:1", "b:2"}, cfg.Masters)
	require.Equal(t, 500*time.Millisecond, cfg.AlivePeriod)
	require.Equal(t, "once", cfg.Auto)
	require.Equal(t, 20*time.Second, cfg.FailoverAfter)

	home := t.TempDir()
	t.Setenv("HOME", home)
	require.NoError(t, cfg.Finish())
	require.Equal(t, filepath.Join(home, ".raet", "keep", "web1"), cfg.KeepDir)

	m := Defaults(RoleMaster)
	m.Name = "salt.example.com"
	require.NoError(t, m.Finish())
	require.Equal(t, "salt_example_com", m.Yard())
	require.True(t, strings.HasPrefix(m.LaneDir, "/tmp/raet-"), m.LaneDir)

	m = Defaults(RoleMaster)
	m.LaneDir = "/tmp/" + strings.Repeat("d", 100)
	err = m.Finish()
	require.ErrorContains(t, err, "lane_dir")
	require.ErrorContains(t, err, "shorter")
}

// The example configuration files parse, hold the defaults, and document
// every option; --help documents every option too.
func TestExampleConfigs(t *testing.T) {
	for _, role := range []Role{RoleMaster, RoleMinion} {
		file := filepath.Join("..", "..", "contrib", "config", string(role)+".yaml")
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		cfg, err := ParseConfig(data, file, role)
		require.NoError(t, err)
		want := Defaults(role)
		cfg.Name, want.Name = "", "" // the minion's default is the host name
		require.Equal(t, want, cfg, "%s holds other values than the defaults", file)

		var help bytes.Buffer
		WriteOptions(&help, role)
		for _, o := range Options() {
			if !hasRole(o.Roles, role) {
				continue
			}
			last := o.Key[strings.LastIndex(o.Key, ".")+1:]
			require.Regexp(t, `(?m)^\s*#?\s*`+last+`:`, string(data), "%s does not document %s", file, o.Key)
			require.Contains(t, help.String(), "  "+o.Key, "--help does not document %s", o.Key)
		}
		// Every YAML key of Config is an option.
		b, err := yaml.Marshal(Defaults(role))
		require.NoError(t, err)
		var keys map[string]any
		require.NoError(t, yaml.Unmarshal(b, &keys))
		for k := range keys {
			require.True(t, knownKey(k), "config key %s has no Option", k)
		}
	}
}

func TestFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: m1\nlisten: 127.0.0.1:1000\nmasters: [a:1]\nkeep_dir: "+dir+"/k\n"), 0o600))
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fl := NewFlags(fs, RoleMinion, false)
	require.NoError(t, fs.Parse([]string{"-c", file, "--listen", "127.0.0.1:2000", "--master", "b:2", "--master", "c:3", "--log-format", "json"}))
	cfg, err := fl.Load()
	require.NoError(t, err)
	require.Equal(t, "m1", cfg.Name)
	require.Equal(t, "127.0.0.1:2000", cfg.Listen)
	require.Equal(t, []string{"b:2", "c:3"}, cfg.Masters)
	require.Equal(t, "json", cfg.Log.Format)
	require.Equal(t, dir+"/k", cfg.KeepDir)

	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fl = NewFlags(fs, RoleMinion, false)
	require.NoError(t, fs.Parse([]string{"-c", file, "--auto", "sometimes"}))
	_, err = fl.Load()
	require.ErrorContains(t, err, "from --auto")

	// Tools take only the flags that find the master.
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	NewFlags(fs, RoleMaster, true)
	require.Error(t, fs.Parse([]string{"--listen", "x:1"}))
	require.NoError(t, fs.Parse([]string{"--keep", "k", "--lane-dir", "/tmp/l", "--name", "n"}))
}

func TestConfigDump(t *testing.T) {
	cfg := Defaults(RoleMinion)
	cfg.Name = "web1"
	var b bytes.Buffer
	require.NoError(t, cfg.Dump(&b))
	require.Contains(t, b.String(), "alive_period: 10s")
	require.Contains(t, b.String(), "masters:")
	require.NotContains(t, b.String(), "lane_dir")
	back, err := ParseConfig(b.Bytes(), "dump", RoleMinion)
	require.NoError(t, err)
	require.Equal(t, cfg, back)
}

func FuzzParseConfig(f *testing.F) {
	for _, role := range []Role{RoleMaster, RoleMinion} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "contrib", "config", string(role)+".yaml")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: [\n"))
	f.Add([]byte("log:\n  level: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The length picks the daemon, so both see every input shape.
		role := RoleMaster
		if len(data)%2 == 1 {
			role = RoleMinion
		}
		cfg, err := ParseConfig(data, "fuzz.yaml", role)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("not a ConfigError: %T %v", err, err)
			}
			return
		}
		if cfg.Role != role {
			t.Fatalf("role %q", cfg.Role)
		}
	})
}
