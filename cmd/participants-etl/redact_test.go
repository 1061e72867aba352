package main

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://user:PASS@gw:9091/x", "http://REDACTED@gw:9091/x"},
		{"https://api.example/?key=SECRET&x=1", "https://api.example/?REDACTED"},
		{"https://api.example/v2#frag", "https://api.example/v2"},
		{"gs://bucket/prefix", "gs://bucket/prefix"},
		{"./out", "./out"},
		{"http://h:bad port/?key=SECRET", "http://h:bad port/?REDACTED"},
	} {
		got := redactURL(tt.in)
		if got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "SECRET") || strings.Contains(got, "PASS") {
			t.Errorf("redactURL(%q) leaks: %q", tt.in, got)
		}
	}
}
