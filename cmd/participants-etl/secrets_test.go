package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestNoSecretInAnyOutput runs the job through success, retries, rejected
// credentials and a rejected ready-made token, then greps everything it
// printed and every file it wrote for the secret and for every token the
// server was sent.
func TestNoSecretInAnyOutput(t *testing.T) {
	inBubble(t, func(t *testing.T) { // stalls, timeouts and backoff on a fake clock
		const staticToken = "STATIC-TOKEN-d41d8cd98f00b204"
		sessions := videosdktest.Generate(13, 30)
		sim := newSim(t, videosdktest.Options{
			InMemory:    true,
			Sessions:    sessions,
			StaticToken: staticToken + "-but-not-this-one",
			Faults:      videosdktest.Faults{Fraction: 0.3, Seed: 3, Stall: time.Second},
		})
		var (
			mu     sync.Mutex
			tokens = map[string]bool{}
		)
		// The command reaches the simulator through this, which records
		// the headers as sent.
		api := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			tokens[r.Header.Get("Authorization")] = true
			mu.Unlock()
			return sim.Client().Transport.RoundTrip(r)
		})}

		out := t.TempDir()
		list := writeList(t, append(ids(sessions), "no-such-session")...)
		var printed bytes.Buffer
		for _, tc := range []struct {
			name string
			env  env
			want int
		}{
			{"minted token, faults", credsEnv(nil), exitPartial},
			{"wrong secret", envMap(map[string]string{"VIDEOSDK_API_KEY": testAPIKey, "VIDEOSDK_SECRET_KEY": testSecret + "-wrong"}), exitUsage},
			{"rejected static token", envMap(map[string]string{"VIDEOSDK_TOKEN": staticToken}), exitUsage},
		} {
			res := runCLIOn(t, t.Context(), api, tc.env, "", "run", "--sessions", list, "--output", out, "--api-url", sim.URL(),
				"--request-timeout", "500ms", "--max-attempts", "10")
			if res.code != tc.want {
				t.Errorf("%s: exit %d, want %d; stderr:\n%s", tc.name, res.code, tc.want, tail(res.stderr, 1500))
			}
			printed.WriteString(res.stdout + res.stderr)
		}

		mu.Lock()
		defer mu.Unlock()
		secrets := []string{testSecret, staticToken}
		for tok := range tokens {
			if len(tok) > 20 {
				secrets = append(secrets, tok)
			}
		}
		if len(secrets) < 4 {
			t.Fatalf("only %d distinct tokens seen: the test is not exercising minting", len(secrets)-2)
		}
		check := func(where string, b []byte) {
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s contains a secret (%.12s…)", where, s)
				}
			}
		}
		check("stdout/stderr", printed.Bytes())
		files := 0
		err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			check(p, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files < 4 {
			t.Errorf("only %d files written: expected Parquet, reports and manifests to grep", files)
		}
	})
}

// TestNoSecretInURLsOrFileVariables covers the other routes a credential
// takes into output: a password in the Pushgateway URL (logged when a push
// fails), a key in the query of --api-url (refused), and a secret pasted
// where VIDEOSDK_SECRET_KEY_FILE wants a path.
func TestNoSecretInURLsOrFileVariables(t *testing.T) {
	const leak = "LEAK-4c1d-secret"
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "pushgateway is unhappy", http.StatusInternalServerError)
	}))
	defer gw.Close()
	out := t.TempDir()
	var printed bytes.Buffer
	for _, tc := range []struct {
		name string
		env  env
		args []string
		want int
	}{
		{"password in --pushgateway", credsEnv(nil), []string{"--pushgateway", strings.Replace(gw.URL, "http://", "http://user:"+leak+"@", 1)}, exitOK},
		{"key in the --api-url query", credsEnv(nil), []string{"--api-url", "https://api.videosdk.live/?key=" + leak}, exitUsage},
		{"key in --api-url userinfo", credsEnv(nil), []string{"--api-url", "https://k:" + leak + "@api.videosdk.live"}, exitUsage},
		{"secret in place of a path", envMap(map[string]string{"VIDEOSDK_API_KEY": testAPIKey, "VIDEOSDK_SECRET_KEY_FILE": leak}), nil, exitUsage},
	} {
		res := runCLI(t, t.Context(), tc.env, "", append([]string{"run", "--sessions", "-", "--output", out}, tc.args...)...)
		if res.code != tc.want {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", tc.name, res.code, tc.want, tail(res.stderr, 1500))
		}
		if bytes.Contains([]byte(res.stdout+res.stderr), []byte(leak)) {
			t.Errorf("%s: the secret is in the output:\n%s", tc.name, res.stdout+res.stderr)
		}
		printed.WriteString(res.stdout + res.stderr)
	}
	if !strings.Contains(printed.String(), "could not push metrics") {
		t.Errorf("the failed push was not logged, so its URL was not checked:\n%s", tail(printed.String(), 2000))
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(leak)) {
				t.Errorf("%s contains the secret", p)
			}
		}
		return nil
	})
}
