package extract

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMinterClaims(t *testing.T) {
	secret := []byte("s3cret-key")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		ttl     time.Duration
		wantTTL time.Duration
	}{
		{"default", 0, 30 * time.Minute},
		{"given", 10 * time.Minute, 10 * time.Minute},
		{"capped at an hour", 24 * time.Hour, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMinter("key-1", secret, tt.ttl)
			m.now = func() time.Time { return now }
			tok, err := m.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return secret, nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
			if err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			want := map[string]string{
				"apikey":      "key-1",
				"permissions": "[allow_join]",
				"version":     "2",
				"roles":       "[crawler]",
				"iat":         fmt.Sprint(now.Add(-30 * time.Second).Unix()), // backdated for clock skew
				"exp":         fmt.Sprint(now.Add(tt.wantTTL).Unix()),
			}
			for k, v := range want {
				got := fmt.Sprint(claims[k])
				if f, ok := claims[k].(float64); ok {
					got = strconv.FormatFloat(f, 'f', -1, 64)
				}
				if got != v {
					t.Errorf("claim %s = %s, want %s", k, got, v)
				}
			}
		})
	}
}

func TestMinterRenews(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	m := NewMinter("k", []byte("s"), 30*time.Minute)
	m.now = func() time.Time { return now }
	first, _ := m.Token(context.Background())
	steps := []struct {
		at    time.Duration
		fresh bool
	}{
		{0, false},
		{20 * time.Minute, false},
		{24*time.Minute + 59*time.Second, false},
		{25 * time.Minute, true}, // five minutes left: renew
	}
	for _, s := range steps {
		m.now = func() time.Time { return now.Add(s.at) }
		tok, err := m.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fresh := tok != first; fresh != s.fresh {
			t.Errorf("at +%v: new token = %v, want %v", s.at, fresh, s.fresh)
		}
	}
}

func TestMinterConcurrent(t *testing.T) {
	m := NewMinter("k", []byte("s"), time.Minute)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				if _, err := m.Token(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func TestTokenSourceErrorsAndFormatting(t *testing.T) {
	secret := "top-secret-value"
	tests := []struct {
		name    string
		src     TokenSource
		wantErr bool
	}{
		{"minter without key", NewMinter("", []byte(secret), 0), true},
		{"minter without secret", NewMinter("k", nil, 0), true},
		{"minter", NewMinter("k", []byte(secret), 0), false},
		{"static", StaticToken(secret), false},
		{"empty static", StaticToken(""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Token(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			opts := Options{Tokens: tt.src}
			var logged strings.Builder
			for _, h := range []slog.Handler{slog.NewJSONHandler(&logged, nil), slog.NewTextHandler(&logged, nil)} {
				slog.New(h).Info("options", "opts", opts, "tokens", tt.src)
			}
			//lint:ignore SA1026 the options hold funcs; what matters is that the token is not in what does marshal
			asJSON, _ := json.Marshal(opts)
			for _, s := range []string{fmt.Sprint(tt.src), fmt.Sprintf("%+v", tt.src), fmt.Sprintf("%#v", tt.src), fmt.Sprint(err),
				fmt.Sprintf("%+v", opts), fmt.Sprintf("%#v", opts), logged.String(), string(asJSON)} {
				if strings.Contains(s, secret) {
					t.Errorf("formatted %q holds the secret", s)
				}
			}
		})
	}
}
