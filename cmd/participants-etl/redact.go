package main

import (
	"net/url"
	"strings"
)

// redactURL is s with the credentials a URL can carry removed: the
// password (and user) of its userinfo and its whole query, which is where
// API keys and tokens go. Anything that is not a URL with a scheme and host
// is returned as is.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if i := strings.IndexAny(s, "?#"); i >= 0 && strings.Contains(s, "://") {
			return s[:i] + "?REDACTED"
		}
		return s
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactIn replaces raw, wherever it appears in msg (an error from a
// library that quotes its URL), with its redacted form.
func redactIn(msg, raw string) string {
	if raw == "" {
		return msg
	}
	return strings.ReplaceAll(msg, raw, redactURL(raw))
}
