// Package extract reads participant timelogs from the VideoSDK v2 REST API.
//
// It owns everything between a session ID and a checked Session: the session
// list (ReadSessionList, which rejects implausible IDs before they are sent),
// authentication (NewMinter mints short-lived HS256 tokens and renews them;
// StaticToken passes a ready one; a minted token the server accepted and
// later refuses is replaced by one fresh mint shared by all workers), the
// request path (one escaped segment per ID), a hard cap on requests in flight
// across all sessions, and a pace that finds the rate the server accepts by
// itself: a 429 cuts it for every worker to a share of the rate measured to
// be accepted, at most once per round trip, and success raises it again
// (Options.Rate is only a ceiling). Back-pressure (429, 503 with Retry-After)
// is retried until a deadline; genuine faults are retried with capped
// exponential backoff and full jitter up to MaxAttempts, each retry logged
// at warning level. A first-byte timeout finds a server that never answers in
// seconds, and a client whose first requests all fail the same way stops
// with ErrAPIUnreachable. Limits bound what comes in (body size, page count).
// Pages are read leniently where the API is lawful (participants, names,
// timelogs, room IDs and ends null or absent; leap seconds) and checked page
// against page: a live session that shifts while it is read is read again, a
// bounded number of times, and a shortfall that is not shifting is named.
//
// It hands on complete, consistent Sessions, each participant once, or an
// error: a *SessionError confines a failure to one session and the run goes
// on; an error wrapping ErrUnauthorized means the credentials are wrong, and
// one wrapping ErrAPIUnreachable that the API cannot be used at all: the run
// must stop. Secrets and tokens never appear in its errors or logs.
//
// The simulator in extract/videosdktest serves the tests and the demo.
package extract
