// Package extract reads participant timelogs from the VideoSDK v2 REST API.
//
// It owns everything between a session ID and a checked Session: the session
// list (ReadSessionList, which rejects implausible IDs before they are sent),
// authentication (NewMinter mints short-lived HS256 tokens and renews them;
// StaticToken passes a ready one), the request path (one escaped segment per
// ID), a hard cap on requests in flight across all sessions, a shared rate
// limit that slows the whole client on a 429, classified retries with capped
// exponential backoff and full jitter, and limits on what comes in (body
// size, page count). Paging is checked page against page: a live session
// that shifts while it is read is read again, a bounded number of times.
//
// It hands on complete, consistent Sessions, each participant once, or an
// error: a *SessionError confines a failure to one session and the run goes
// on; an error wrapping ErrUnauthorized means the credentials are wrong and
// the run must stop. Secrets and tokens never appear in its errors or logs.
//
// The simulator in extract/videosdktest serves the tests and the demo.
package extract
