package main

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	const staticToken = "STATIC-TOKEN-d41d8cd98f00b204"
	sessions := videosdktest.Generate(13, 30)
	sim := newSim(t, videosdktest.Options{
		Sessions:    sessions,
		StaticToken: staticToken + "-but-not-this-one",
		Faults:      videosdktest.Faults{Fraction: 0.3, Seed: 3, Stall: time.Second},
	})
	var (
		mu     sync.Mutex
		tokens = map[string]bool{}
	)
	// A recording front for the simulator: it sees the real headers.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens[r.Header.Get("Authorization")] = true
		mu.Unlock()
		sim.ServeHTTP(w, r)
	}))
	defer front.Close()

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
		res := runCLI(t, t.Context(), tc.env, "", "run", "--sessions", list, "--output", out, "--api-url", front.URL,
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
}
