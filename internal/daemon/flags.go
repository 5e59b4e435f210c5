package daemon

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Flags are the command line options of a daemon or of a tool that reaches
// one: --config names the YAML file, the others override its keys.
type Flags struct {
	role   Role
	config string
	set    map[string]string   // flag name → value, for those given
	multi  map[string][]string // repeatable flags
	fs     *flag.FlagSet
}

// NewFlags defines on fs the flags of role's daemon (tool: only those a tool
// needs to find the master: --config, --name, --keep, --lane-dir).
func NewFlags(fs *flag.FlagSet, role Role, tool bool) *Flags {
	f := &Flags{role: role, set: map[string]string{}, multi: map[string][]string{}, fs: fs}
	fs.StringVar(&f.config, "config", "", "configuration file (YAML)")
	fs.StringVar(&f.config, "c", "", "short for --config")
	for _, o := range Options() {
		if o.Flag == "" || !hasRole(o.Roles, role) {
			continue
		}
		if tool && o.Flag != "name" && o.Flag != "keep" && o.Flag != "lane-dir" {
			continue
		}
		name := o.Flag
		if o.Key == "masters" {
			fs.Func(name, "master to join, HOST:PORT (repeat for several; replaces masters)", func(s string) error {
				f.multi[name] = append(f.multi[name], s)
				return nil
			})
			continue
		}
		fs.Func(name, "overrides "+o.Key, func(s string) error {
			f.set[name] = s
			return nil
		})
	}
	return f
}

func hasRole(rs []Role, r Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// Load reads the configuration file (defaults when none was named),
// applies the flags given and fills in the derived defaults.
func (f *Flags) Load() (Config, error) {
	cfg := Defaults(f.role)
	if f.config != "" {
		c, err := LoadConfig(f.config, f.role)
		if err != nil {
			return c, err
		}
		cfg = c
	}
	for _, o := range Options() {
		v, ok := f.set[o.Flag]
		if o.Flag == "" || !ok {
			continue
		}
		switch o.Key {
		case "name":
			cfg.Name = v
		case "listen":
			cfg.Listen = v
		case "keep_dir":
			cfg.KeepDir = v
		case "auto":
			cfg.Auto = v
		case "log.level":
			cfg.Log.Level = v
		case "log.format":
			cfg.Log.Format = v
		case "lane_dir":
			cfg.LaneDir = v
		case "metrics_listen":
			cfg.MetricsListen = v
		}
	}
	if ms := f.multi["master"]; len(ms) > 0 {
		cfg.Masters = ms
	}
	if err := cfg.Finish(); err != nil {
		var ce *ConfigError
		if asConfigError(err, &ce) && ce.File == "" {
			if fl := flagFor(ce.Key); fl != "" && (f.set[fl] != "" || len(f.multi[fl]) > 0) {
				ce.Msg += " (from --" + fl + ")"
			} else if f.config != "" {
				ce.File = f.config
				ce.Line = lineInFile(f.config, ce.Key)
			}
		}
		return cfg, err
	}
	return cfg, nil
}

// lineInFile finds the line of a dotted key in a YAML file, 0 if unknown.
func lineInFile(file, key string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return 0
	}
	return keyLine(root.Content[0], key)
}

func asConfigError(err error, target **ConfigError) bool {
	ce, ok := err.(*ConfigError)
	if ok {
		*target = ce
	}
	return ok
}

func flagFor(key string) string {
	for _, o := range Options() {
		if o.Key == key {
			return o.Flag
		}
	}
	return ""
}

// WriteOptions documents role's configuration keys and the flags that
// override them, for --help.
func WriteOptions(w io.Writer, role Role) {
	fmt.Fprintf(w, "configuration (YAML file given with --config; every key is optional):\n\n")
	for _, o := range Options() {
		if !hasRole(o.Roles, role) {
			continue
		}
		head := "  " + o.Key
		if o.Flag != "" {
			if o.Key == "masters" {
				head += "  (--master HOST:PORT, repeatable)"
			} else {
				head += "  (--" + o.Flag + ")"
			}
		}
		fmt.Fprintf(w, "%s\n", head)
		for _, line := range wrap(o.Doc+" Default: "+roleDefault(o.Default, role)+".", 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// roleDefault picks role's part of a default documented as
// "master: X; minion: Y".
func roleDefault(def string, role Role) string {
	for _, part := range strings.Split(def, "; ") {
		if rest, ok := strings.CutPrefix(part, string(role)+": "); ok {
			return rest
		}
	}
	return def
}

func wrap(s string, width int) []string {
	var out []string
	var line strings.Builder
	for _, word := range strings.Fields(s) {
		if line.Len() > 0 && line.Len()+1+len(word) > width {
			out = append(out, line.String())
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(word)
	}
	if line.Len() > 0 {
		out = append(out, line.String())
	}
	return out
}
