package extract

import (
	"net/url"
	"strings"
	"testing"
)

func TestPageURL(t *testing.T) {
	tests := []struct {
		base, id string
		want     string
	}{
		{"https://api.videosdk.live", "61763c2597b0c743cf454204",
			"https://api.videosdk.live/v2/sessions/61763c2597b0c743cf454204/participants?page=2&perPage=50"},
		{"http://127.0.0.1:8080/", "../../v2/rooms/x",
			"http://127.0.0.1:8080/v2/sessions/..%2F..%2Fv2%2Frooms%2Fx/participants?page=2&perPage=50"},
		{"http://h", "a?page=9", "http://h/v2/sessions/a%3Fpage=9/participants?page=2&perPage=50"},
		{"http://h", "a/b", "http://h/v2/sessions/a%2Fb/participants?page=2&perPage=50"},
		{"http://h", "%2e%2e", "http://h/v2/sessions/%252e%252e/participants?page=2&perPage=50"},
		{"http://h", ".", "http://h/v2/sessions/%2E/participants?page=2&perPage=50"},
		{"http://h", "..", "http://h/v2/sessions/%2E%2E/participants?page=2&perPage=50"},
		{"http://h", "a#b c", "http://h/v2/sessions/a%23b%20c/participants?page=2&perPage=50"},
		{"http://h", "a;b&c=d", "http://h/v2/sessions/a%3Bb&c=d/participants?page=2&perPage=50"},
		{"http://h", "会议", "http://h/v2/sessions/%E4%BC%9A%E8%AE%AE/participants?page=2&perPage=50"},
		{"http://h/proxy/videosdk", "x", "http://h/proxy/videosdk/v2/sessions/x/participants?page=2&perPage=50"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			c, err := NewClient(Options{BaseURL: tt.base, Tokens: StaticToken("t")})
			if err != nil {
				t.Fatal(err)
			}
			u := c.pageURL(tt.id, 2, 50)
			if got := u.String(); got != tt.want {
				t.Errorf("URL = %s\nwant  %s", got, tt.want)
			}
			// What goes on the wire: exactly one segment between sessions/ and /participants.
			uri := u.RequestURI()
			path, _, _ := strings.Cut(uri, "?")
			segs := strings.Split(path, "/")
			seg := segs[len(segs)-2]
			if segs[len(segs)-3] != "sessions" || segs[len(segs)-1] != "participants" {
				t.Fatalf("request URI %s does not end in sessions/{id}/participants", uri)
			}
			if seg == "." || seg == ".." {
				t.Errorf("dot segment %q on the wire", seg)
			}
			if id, err := url.PathUnescape(seg); err != nil || id != tt.id {
				t.Errorf("segment %q unescapes to %q, %v; want %q", seg, id, err, tt.id)
			}
		})
	}
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no tokens", Options{}},
		{"not http", Options{Tokens: StaticToken("t"), BaseURL: "ftp://h"}},
		{"no host", Options{Tokens: StaticToken("t"), BaseURL: "http://"}},
		{"query", Options{Tokens: StaticToken("t"), BaseURL: "http://h/?x=1"}},
		{"credentials in URL", Options{Tokens: StaticToken("t"), BaseURL: "http://u:p@h"}},
		{"negative rate", Options{Tokens: StaticToken("t"), Rate: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewClient(tt.opts); err == nil {
				t.Error("NewClient accepted bad options")
			}
		})
	}
}
