package extract_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/participants-etl/participants-etl/extract"
	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// TestSecretsNeverLeak drives the client down its failure paths, against
// the simulator and against a proxy that echoes the Authorization header
// back, and checks that neither the secret nor a token appears in any error
// or log line.
func TestSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}

	const static = "static-token-do-not-leak"
	wrongSecret := []byte("wrong-secret-do-not-leak")
	var minted, wrongMinted string
	// Against the simulator, on a fake clock: its 429s slow the pace right
	// down, and stalls wait out timeouts. Tokens are minted in the bubble,
	// on its clock, as the server reads them.
	synctest.Test(t, func(t *testing.T) {
		minter := extract.NewMinter("test-key", secret, time.Minute)
		var err error
		if minted, err = minter.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		wrongMinter := extract.NewMinter("test-key", wrongSecret, time.Minute)
		wrongMinted, _ = wrongMinter.Token(context.Background())

		sessions := append(videosdktest.Generate(5, 12),
			videosdktest.Session{ID: "schema", Participants: people("s", 3), Override: map[int]string{1: `{"pageInfo":{}}`}},
			videosdktest.Session{ID: "big", Participants: people("b", 300)},
		)
		srv := newServer(t, videosdktest.Options{InMemory: true, Sessions: sessions, Faults: videosdktest.Faults{
			Fraction: 0.5, Seed: 1, MaxConsecutive: 4, Stall: time.Second}})
		// Faults, 404s, schema errors and giving up, with good credentials.
		c := newClient(t, srv, extract.Options{Tokens: minter, Logger: logger, MaxAttempts: 2,
			RequestTimeout: 200 * time.Millisecond})
		for _, r := range fetchAll(context.Background(), c, append(ids(sessions), "missing", "../x"), 4) {
			record(r.err)
		}
		c = newClient(t, srv, extract.Options{Tokens: minter, Logger: logger, MaxBodyBytes: 2000})
		_, err = c.FetchSession(context.Background(), "big")
		record(err)
		// Wrong credentials, minted and static.
		for _, tokens := range []extract.TokenSource{wrongMinter, extract.StaticToken(static)} {
			c := newClient(t, srv, extract.Options{Tokens: tokens, Logger: logger})
			_, err := c.FetchSession(context.Background(), sessions[0].ID)
			record(err)
		}
	})
	// A proxy that puts the request's Authorization header into its answers.
	var n atomic.Int64
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch n.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"statusCode":400,"error":"Bad Request","message":"bad token %s"}`, auth)
		case 1:
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `<html>upstream refused %s</html>`, auth)
		case 2:
			fmt.Fprintf(w, `<html>login: %s</html>`, auth)
		case 3:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":"token %s is not allowed"}`, auth)
		}
	}))
	defer echo.Close()
	for range 3 {
		c, err := extract.NewClient(extract.Options{BaseURL: echo.URL, Tokens: extract.StaticToken(static), Logger: logger,
			BackoffBase: time.Millisecond, MaxAttempts: 3})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.FetchSession(context.Background(), "s")
		record(err)
	}
	// Bad options.
	_, err := extract.NewClient(extract.Options{BaseURL: "https://user:" + static + "@api.example",
		Tokens: extract.NewMinter("test-key", secret, time.Minute)})
	record(err)

	if len(errs) < 20 || logs.Len() == 0 {
		t.Fatalf("only %d errors and %d bytes of logs: the failure paths were not exercised", len(errs), logs.Len())
	}
	secrets := map[string]string{
		"secret": string(secret), "wrong secret": string(wrongSecret),
		"minted token": minted, "wrong minted token": wrongMinted, "static token": static,
	}
	for what, s := range secrets {
		for _, e := range errs {
			if strings.Contains(e, s) {
				t.Errorf("the %s appears in error %q", what, e)
			}
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the %s appears in the logs", what)
		}
	}
}
