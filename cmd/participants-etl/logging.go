package main

import (
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usagef("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger logs JSON that Cloud Logging reads natively (severity, message,
// time) unless asked for text or writing to a terminal.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	lvl, _ := parseLevel(level)
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableValues}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		return cloudLoggingKeys(groups, seconds(a))
	}}))
}

// seconds writes durations as seconds, where slog would write nanoseconds.
func seconds(a slog.Attr) slog.Attr {
	if d, ok := a.Value.Any().(time.Duration); ok {
		a.Value = slog.Float64Value(d.Seconds())
	}
	return a
}

// readableValues is seconds plus maps as sorted key=value pairs, where the
// text format would print Go's map[...] syntax (JSON keeps objects).
func readableValues(_ []string, a slog.Attr) slog.Attr {
	a = seconds(a)
	switch v := a.Value.Any().(type) {
	case map[string]int64:
		keys := slices.Sorted(maps.Keys(v))
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + strconv.FormatInt(v[k], 10)
		}
		a.Value = slog.StringValue(strings.Join(pairs, " "))
	}
	return a
}

// cloudLoggingKeys renames slog's top-level keys to the ones Cloud Logging
// recognises in structured container logs.
func cloudLoggingKeys(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		lvl, _ := a.Value.Any().(slog.Level)
		switch {
		case lvl >= slog.LevelError:
			a.Value = slog.StringValue("ERROR")
		case lvl >= slog.LevelWarn:
			a.Value = slog.StringValue("WARNING")
		case lvl >= slog.LevelInfo:
			a.Value = slog.StringValue("INFO")
		default:
			a.Value = slog.StringValue("DEBUG")
		}
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
