package extract

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// iatBackdate absorbs a server clock that runs behind ours: a token is
	// not refused as issued in the future.
	iatBackdate     = 30 * time.Second
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
	// proven is set once the server has accepted token: a later refusal
	// of it is about its age, not the credentials.
	proven bool
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
	return m.mint(now)
}

// mint makes a new current token. Call with mu held.
func (m *Minter) mint(now time.Time) (string, error) {
	exp := now.Add(m.ttl).Truncate(time.Second)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"apikey":      m.apiKey,
		"permissions": []string{"allow_join"},
		"version":     2,
		"roles":       []string{"crawler"},
		"iat":         now.Add(-iatBackdate).Unix(),
		"exp":         exp.Unix(),
		// Two tokens minted in one second would otherwise be the same
		// string, and a renewal of a refused token no renewal at all.
		"jti": rand.Text(),
	}).SignedString(m.secret)
	if err != nil {
		// jwt's errors name the method or key type, never the key itself.
		return "", fmt.Errorf("cannot mint a token: %w", err)
	}
	m.token, m.expires, m.proven = tok, exp, false
	return tok, nil
}

// accepted records that the server took tok.
func (m *Minter) accepted(tok string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok == m.token {
		m.proven = true
	}
}

// renewRefused answers the server's refusal of tok. If tok is the current
// token and the server had accepted it, a fresh one is minted; if another
// token has taken its place meanwhile (another worker renewed, or age did),
// that one is used. Either way nil: retry with Token. The mutex makes it
// one mint for all the workers refused at once. An error means tok is the
// current token and was refused without ever being accepted.
func (m *Minter) renewRefused(tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok != m.token {
		return nil
	}
	if !m.proven {
		return errors.New("a freshly minted token was refused")
	}
	_, err := m.mint(m.now())
	return err
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

// expiry says whether the token had expired at now, from its exp claim
// read without verifying the signature (the job does not hold the secret).
func (s staticToken) expiry(now time.Time) string {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(string(s), claims); err != nil {
		return "is not a readable JWT"
	}
	exp, err := claims.GetExpirationTime()
	switch {
	case err != nil || exp == nil:
		return "carries no exp"
	case now.After(exp.Time):
		return fmt.Sprintf("had expired at %s (%v before)", exp.UTC().Format(time.RFC3339), now.Sub(exp.Time).Round(time.Second))
	default:
		return fmt.Sprintf("has not expired (exp %s)", exp.UTC().Format(time.RFC3339))
	}
}

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
