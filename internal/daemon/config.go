// Package daemon runs raet's long-lived processes and the operator's view of
// them: the master (a main estate with a lane for local tools), the minion
// (an estate that joins a master and answers requests with a few built-in
// functions), and the client the raet command's key, publish, request and
// status subcommands use to reach a running master.
package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/raet-go/raet/estate"
	"github.com/raet-go/raet/lane"
)

// Role says which daemon a configuration is for.
type Role string

// The daemons.
const (
	RoleMaster Role = "master"
	RoleMinion Role = "minion"
)

// LogConfig says where and how a daemon logs.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	File   string `yaml:"file"`
}

// Config is the configuration of a master or a minion, as read from its
// YAML file and overridden by flags. Options describes every field; Defaults
// fills in what the file leaves out.
type Config struct {
	Role Role `yaml:"-"`

	Name            string        `yaml:"name"`
	Listen          string        `yaml:"listen"`
	KeepDir         string        `yaml:"keep_dir"`
	Auto            string        `yaml:"auto"`
	Mutable         bool          `yaml:"mutable"`
	JoinTimeout     time.Duration `yaml:"join_timeout"`
	AlivePeriod     time.Duration `yaml:"alive_period"`
	AliveTimeout    time.Duration `yaml:"alive_timeout"`
	MessageTimeout  time.Duration `yaml:"message_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	KeyLog          string        `yaml:"key_log"`
	FastMode        bool          `yaml:"fast_mode"`
	Log             LogConfig     `yaml:"log"`

	// Master only.
	LaneDir       string `yaml:"lane_dir"`
	Lane          string `yaml:"lane"`
	MetricsListen string `yaml:"metrics_listen"`

	// Minion only.
	Masters       []string      `yaml:"masters"`
	FailoverAfter time.Duration `yaml:"failover_after"`
	BackoffMin    time.Duration `yaml:"backoff_min"`
	BackoffMax    time.Duration `yaml:"backoff_max"`
	Functions     []string      `yaml:"functions"`
}

// Option documents one configuration key: its flag (if any), default and
// meaning. The example configuration files and --help are checked against
// this list.
type Option struct {
	Key     string // YAML key, dotted for nested ones
	Flag    string // command line flag overriding it, "" for none
	Roles   []Role // daemons that take it
	Default string // as documented
	Doc     string
}

var both = []Role{RoleMaster, RoleMinion}

// Options lists every configuration key.
func Options() []Option {
	return []Option{
		{"name", "name", both, "master: \"master\"; minion: the host name",
			"Estate name. It must match the name kept in keep_dir once the keep exists."},
		{"listen", "listen", both, "master: 0.0.0.0:7530; minion: 0.0.0.0:7531",
			"UDP address to bind, HOST:PORT. Minions on one host need a port each; a minion's port must stay the same across restarts unless the master is mutable."},
		{"keep_dir", "keep", both, "~/.raet/keep/NAME",
			"Keep directory (Python RAET's RoadKeep layout): the estate's keys, the remotes it knows and their acceptance."},
		{"auto", "auto", both, "master: never; minion: once",
			"How keys presented in joins are accepted: never (pending until `raet key accept`), once (the first keys of each name, then only those), always."},
		{"mutable", "", both, "false",
			"Let known estates change address, role or keys when they rejoin."},
		{"join_timeout", "", both, "5s",
			"How long one join attempt waits for the other side. A minion whose key is pending retries."},
		{"alive_period", "", both, "10s",
			"How often each remote is probed for presence; a lost link is noticed within alive_period + alive_timeout."},
		{"alive_timeout", "", both, "2s",
			"How long a presence probe waits for its answer before the remote counts as dead."},
		{"message_timeout", "", both, "60s",
			"How long a message transfer may go without hearing from the other side before it fails."},
		{"shutdown_timeout", "", both, "10s",
			"On SIGINT or SIGTERM, how long to wait for requests being served and messages in flight before stopping anyway."},
		{"key_log", "", both, "$RAET_KEYLOGFILE",
			"File to append session keys to, so captures can be decrypted (raet dump --keylog). Whoever holds it can read the traffic: leave it unset in production."},
		{"fast_mode", "", both, "true",
			"Let sessions with other raet-go estates run raet-go's fast mode (binary heads, AEAD). Set false to speak plain RAET to everyone, e.g. to read captures with raet dump, which cannot open fast-mode packets."},
		{"log.level", "log-level", both, "info", "Log level: debug, info, warn or error."},
		{"log.format", "log-format", both, "text", "Log format: text (logfmt) or json."},
		{"log.file", "", both, "standard error", "File to append logs to."},
		{"lane_dir", "lane-dir", []Role{RoleMaster}, "/tmp/raet-USER",
			"Directory of the master's lane socket (for raet key, publish, request and status). It is made 0700 and must belong to the user running the master. Socket paths must stay under 108 bytes."},
		{"lane", "", []Role{RoleMaster}, "raet", "Lane name: the socket is LANE_DIR/LANE.NAME.uxd."},
		{"metrics_listen", "metrics", []Role{RoleMaster}, "off",
			"HOST:PORT to serve counters over HTTP: /metrics (Prometheus text format) and /debug/vars (expvar JSON). Bind it to loopback or a trusted network."},
		{"masters", "master", []Role{RoleMinion}, "[127.0.0.1:7530]",
			"Masters to join, HOST:PORT, tried in order: when one is unreachable the minion tries the next."},
		{"failover_after", "", []Role{RoleMinion}, "20s",
			"How long a minion tries one master (or waits for a lost one to answer again) before it tries the next."},
		{"backoff_min", "", []Role{RoleMinion}, "1s",
			"First pause after every master failed; it doubles on each round."},
		{"backoff_max", "", []Role{RoleMinion}, "30s", "Longest pause between rounds of join attempts."},
		{"functions", "", []Role{RoleMinion}, "[\"*\"]",
			"Built-in functions the minion answers (shell patterns): test.ping, test.echo, test.sleep, sys.info, sys.functions. Nothing else runs."},
	}
}

// Defaults returns the configuration a daemon runs with when its file and
// flags say nothing; paths that depend on the name stay empty until
// Finish.
func Defaults(role Role) Config {
	c := Config{
		Role:            role,
		Auto:            "never",
		Listen:          "0.0.0.0:7530",
		Name:            "master",
		JoinTimeout:     5 * time.Second,
		AlivePeriod:     10 * time.Second,
		AliveTimeout:    2 * time.Second,
		MessageTimeout:  60 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		FastMode:        true,
		Log:             LogConfig{Level: "info", Format: "text"},
	}
	switch role {
	case RoleMaster:
		c.Lane = "raet"
	case RoleMinion:
		c.Auto = "once"
		c.Listen = "0.0.0.0:7531"
		c.Name = hostName()
		c.Masters = []string{"127.0.0.1:7530"}
		c.FailoverAfter = 20 * time.Second
		c.BackoffMin = time.Second
		c.BackoffMax = 30 * time.Second
		c.Functions = []string{"*"}
	}
	return c
}

func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "minion"
	}
	return h
}

// ConfigError is a problem with a configuration file, with the line it is on
// when known.
type ConfigError struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadConfig reads a configuration file for role over the defaults. Unknown
// keys, values of the wrong type and malformed YAML are errors naming the
// file and line (a *ConfigError). The result still needs Finish.
func LoadConfig(file string, role Role) (Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Config{}, &ConfigError{File: file, Msg: err.Error()}
	}
	return ParseConfig(data, file, role)
}

// ParseConfig is LoadConfig for a file's contents; name labels errors.
func ParseConfig(data []byte, name string, role Role) (Config, error) {
	cfg := Defaults(role)
	if len(data) > 1<<20 {
		return cfg, &ConfigError{File: name, Msg: "file larger than 1 MiB"}
	}
	if line := firstTabIndent(data); line > 0 {
		return cfg, &ConfigError{File: name, Line: line, Msg: "tab used for indentation (YAML indents with spaces)"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, yamlError(name, err)
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && len(root.Content) == 0) {
		return cfg, nil // empty file: defaults
	}
	top := root.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return cfg, nil
	}
	if top.Kind != yaml.MappingNode {
		return cfg, &ConfigError{File: name, Line: top.Line, Msg: "the configuration must be a mapping of keys to values"}
	}
	// Keys of the other daemon are refused by name, before decoding, so the
	// message can say why.
	allowed := map[string]bool{}
	for _, o := range Options() {
		for _, r := range o.Roles {
			if r == role {
				allowed[strings.Split(o.Key, ".")[0]] = true
			}
		}
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		if !allowed[k.Value] && knownKey(k.Value) {
			return cfg, &ConfigError{File: name, Line: k.Line, Key: k.Value, Msg: fmt.Sprintf("not a %s option", role)}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Defaults(role), yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		return Defaults(role), &ConfigError{File: name, Line: line, Msg: "more than one YAML document"}
	}
	cfg.Role = role
	if err := cfg.validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = keyLine(top, ce.Key)
		}
		return cfg, err
	}
	return cfg, nil
}

func knownKey(k string) bool {
	for _, o := range Options() {
		if strings.Split(o.Key, ".")[0] == k {
			return true
		}
	}
	return false
}

// firstTabIndent returns the first line indented with a tab, or 0.
func firstTabIndent(data []byte) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " ")
		if len(trimmed) > 0 && trimmed[0] == '\t' {
			if rest := bytes.TrimLeft(trimmed, " \t"); len(rest) > 0 && rest[0] != '#' {
				return i + 1
			}
		}
	}
	return 0
}

// keyLine finds the line of a dotted key in a mapping node, 0 if absent.
func keyLine(n *yaml.Node, key string) int {
	if key == "" {
		return 0
	}
	parts := strings.Split(key, ".")
	line := 0
	for _, p := range parts {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

var (
	reLine    = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown = regexp.MustCompile(`^field (\S+) not found in type`)
	reType    = regexp.MustCompile("^cannot unmarshal (!!\\w+) `(.*)` into (.+)$")
)

// yamlError turns yaml.v3's errors into ConfigErrors with lines and plainer
// words.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return lineError(file, te.Errors[0])
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return lineError(file, msg)
}

func lineError(file, msg string) *ConfigError {
	ce := &ConfigError{File: file, Msg: msg}
	if m := reLine.FindStringSubmatch(msg); m != nil {
		ce.Line, _ = strconv.Atoi(m[1])
		ce.Msg = m[2]
	}
	if m := reUnknown.FindStringSubmatch(ce.Msg); m != nil {
		ce.Msg = fmt.Sprintf("unknown key %q (raet master --help and raet minion --help list the options)", m[1])
	}
	if m := reType.FindStringSubmatch(ce.Msg); m != nil {
		want := m[3]
		switch want {
		case "time.Duration":
			want = "a duration such as 500ms, 10s or 1m"
		case "[]string":
			want = "a list of strings"
		case "bool":
			want = "true or false"
		case "string":
			want = "a string"
		default:
			if strings.HasPrefix(want, "daemon.") {
				want = "a mapping"
			}
		}
		ce.Msg = fmt.Sprintf("%s is not %s", strconv.Quote(m[2]), want)
	}
	return ce
}

// validate checks values the YAML types cannot: names, addresses, modes.
// Errors are *ConfigError with Key set.
func (c *Config) validate() error {
	bad := func(key, format string, a ...any) error {
		return &ConfigError{Key: key, Msg: fmt.Sprintf(format, a...)}
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\\ \t\n") || c.Name == "." || c.Name == ".." {
		return bad("name", "%q cannot name an estate (no spaces or slashes)", c.Name)
	}
	if err := checkAddr(c.Listen); err != nil {
		return bad("listen", "%v", err)
	}
	if _, err := estate.ParseAutoMode(c.Auto); err != nil {
		return bad("auto", "%q is not never, once or always", c.Auto)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"join_timeout", c.JoinTimeout}, {"alive_timeout", c.AliveTimeout}, {"message_timeout", c.MessageTimeout},
		{"shutdown_timeout", c.ShutdownTimeout}} {
		if d.v <= 0 {
			return bad(d.key, "must be more than 0")
		}
	}
	if c.AlivePeriod <= 0 {
		return bad("alive_period", "must be more than 0")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	switch c.Role {
	case RoleMaster:
		if !lane.ValidLaneName(c.Lane) {
			return bad("lane", "%q cannot name a lane", c.Lane)
		}
		if c.MetricsListen != "" {
			if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
				return bad("metrics_listen", "%q is not HOST:PORT", c.MetricsListen)
			}
		}
	case RoleMinion:
		if len(c.Masters) == 0 {
			return bad("masters", "a minion needs at least one master, HOST:PORT")
		}
		for _, m := range c.Masters {
			if _, _, err := net.SplitHostPort(m); err != nil {
				return bad("masters", "%q is not HOST:PORT", m)
			}
		}
		if c.FailoverAfter <= 0 {
			return bad("failover_after", "must be more than 0")
		}
		if c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin {
			return bad("backoff_min", "backoff_min must be more than 0 and at most backoff_max")
		}
		if len(c.Functions) == 0 {
			return bad("functions", "empty: the minion would answer nothing (use [\"*\"] for all)")
		}
		for _, p := range c.Functions {
			if len(matchFunctions(p)) == 0 {
				return bad("functions", "%q matches no built-in function (%s)", p, strings.Join(functionNames(), ", "))
			}
		}
	}
	return nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: bad port", a)
	}
	_ = host
	return nil
}

// Finish fills in the defaults that depend on other options (the keep and
// lane directories), expands ~ and checks the whole again. Call it after
// applying flags.
func (c *Config) Finish() error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.KeepDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return &ConfigError{Key: "keep_dir", Msg: "not set, and no home directory for the default: " + err.Error()}
		}
		c.KeepDir = filepath.Join(home, ".raet", "keep", c.Name)
	}
	var err error
	if c.KeepDir, err = expandHome(c.KeepDir); err != nil {
		return &ConfigError{Key: "keep_dir", Msg: err.Error()}
	}
	if c.Log.File != "" {
		if c.Log.File, err = expandHome(c.Log.File); err != nil {
			return &ConfigError{Key: "log.file", Msg: err.Error()}
		}
	}
	if c.KeyLog != "" {
		if c.KeyLog, err = expandHome(c.KeyLog); err != nil {
			return &ConfigError{Key: "key_log", Msg: err.Error()}
		}
	}
	if c.Role == RoleMaster {
		if c.LaneDir == "" {
			c.LaneDir = defaultLaneDir()
		}
		if c.LaneDir, err = expandHome(c.LaneDir); err != nil {
			return &ConfigError{Key: "lane_dir", Msg: err.Error()}
		}
		// The longest socket name on the lane is a tool's (raet-cli-PID).
		for _, yard := range []string{c.Yard(), cliYardName(4194304)} {
			if _, err := lane.YardPath(c.LaneDir, c.Lane, yard); err != nil {
				return &ConfigError{Key: "lane_dir", Msg: fmt.Sprintf("%v; choose a shorter lane_dir", err)}
			}
		}
	}
	return nil
}

func expandHome(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, strings.TrimPrefix(p, "~"))
	}
	return filepath.Abs(p)
}

// defaultLaneDir is /tmp/raet-USER: short, so socket paths fit.
func defaultLaneDir() string {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, name)
	return path.Join("/tmp", "raet-"+name)
}

// Yard is the name of the master's yard on its lane: its estate name, with
// characters a yard name cannot hold (dots) replaced.
func (c *Config) Yard() string { return yardName(c.Name) }

func yardName(name string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '.' || r == '/' {
			return '_'
		}
		return r
	}, name)
}

// cliYardName is the yard a command line tool takes on the master's lane.
func cliYardName(pid int) string { return "raet-cli-" + strconv.Itoa(pid) }

// Dump writes the configuration as YAML (for raet master --check).
func (c *Config) Dump(w io.Writer) error {
	out := map[string]any{}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, &out); err != nil {
		return err
	}
	allowed := map[string]bool{}
	for _, o := range Options() {
		for _, r := range o.Roles {
			if r == c.Role {
				allowed[strings.Split(o.Key, ".")[0]] = true
			}
		}
	}
	for k := range out {
		if !allowed[k] {
			delete(out, k)
		}
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return err
	}
	return enc.Close()
}
