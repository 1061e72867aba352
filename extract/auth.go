package extract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	defaultTokenTTL = 30 * time.Minute
	maxTokenTTL     = time.Hour
	maxRenewMargin  = 5 * time.Minute
)

// Minter mints HS256 tokens from an API key and secret and renews them
// before they expire. It is safe for concurrent use.
type Minter struct {
	apiKey string
	secret []byte
	ttl    time.Duration
	now    func() time.Time // replaced in tests

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewMinter returns a TokenSource minting tokens that live ttl (default
// 30 minutes, at most an hour) with the claims the v2 REST API requires:
// apikey, permissions ["allow_join"], version 2, roles ["crawler"], iat, exp.
func NewMinter(apiKey string, secret []byte, ttl time.Duration) *Minter {
	if ttl <= 0 {
		ttl = defaultTokenTTL
	}
	ttl = min(ttl, maxTokenTTL)
	return &Minter{
		apiKey: apiKey,
		secret: append([]byte(nil), secret...),
		ttl:    ttl,
		now:    time.Now,
	}
}

// Token returns the current token, minting a new one when less than a fifth
// of its life (at most five minutes) is left.
func (m *Minter) Token(context.Context) (string, error) {
	if m.apiKey == "" {
		return "", errors.New("cannot mint a token: the API key is empty")
	}
	if len(m.secret) == 0 {
		return "", errors.New("cannot mint a token: the secret key is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	margin := min(m.ttl/5, maxRenewMargin)
	if m.token != "" && now.Before(m.expires.Add(-margin)) {
		return m.token, nil
	}
	exp := now.Add(m.ttl).Truncate(time.Second)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"apikey":      m.apiKey,
		"permissions": []string{"allow_join"},
		"version":     2,
		"roles":       []string{"crawler"},
		"iat":         now.Unix(),
		"exp":         exp.Unix(),
	}).SignedString(m.secret)
	if err != nil {
		// jwt's errors name the method or key type, never the key itself.
		return "", fmt.Errorf("cannot mint a token: %w", err)
	}
	m.token, m.expires = tok, exp
	return tok, nil
}

// String keeps the secret out of anything that formats a Minter.
func (m *Minter) String() string {
	return "extract.Minter{apikey: " + m.apiKey + ", secret: [redacted]}"
}

// LogValue keeps the secret out of slog output.
func (m *Minter) LogValue() slog.Value { return slog.StringValue(m.String()) }

type staticToken string

// StaticToken returns a TokenSource that hands out tok as given, for a ready
// token (VIDEOSDK_TOKEN). It is never renewed.
func StaticToken(tok string) TokenSource { return staticToken(tok) }

func (s staticToken) Token(context.Context) (string, error) {
	if s == "" {
		return "", errors.New("the static token is empty")
	}
	return string(s), nil
}

func (staticToken) String() string         { return "[redacted token]" }
func (staticToken) GoString() string       { return "[redacted token]" }
func (s staticToken) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the token out of JSON and text encodings (slog's JSON
// handler encodes a struct holding a StaticToken with encoding/json).
func (s staticToken) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText keeps the secret out of JSON and text encodings.
func (m *Minter) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
