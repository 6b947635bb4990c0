package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/orcahq/orca/internal/config"
)

// newLogger builds the logger the settings ask for, writing to w; only main picks the handler
// and the level.
func newLogger(w io.Writer, l config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(l.Level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", l.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", l.Format)
}
