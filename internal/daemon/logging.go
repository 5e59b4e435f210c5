package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// NewLogger builds the daemon's logger from its log options: text or JSON
// records at the configured level, to the log file (appended to) or to
// stderr. The returned function closes the file.
func NewLogger(c LogConfig, stderr io.Writer) (*slog.Logger, func() error, error) {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "", "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("log.level %q is not debug, info, warn or error", c.Level)
	}
	w, closer := stderr, func() error { return nil }
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		w, closer = f, f.Close
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.Format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		closer()
		return nil, nil, fmt.Errorf("log.format %q is not text or json", c.Format)
	}
	return slog.New(h), closer, nil
}
