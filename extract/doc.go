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
// The session source "videosdk:" finds the sessions itself (ParseVideoSDKSource
// reads its roomId and customRoomId filters). ListSessions lists, through
// GET /v2/sessions/, the sessions whose start lies in a window [From, To),
// one listing per room, merged by ID. It is careful as paging participants
// is: pageInfo read from every page, perPage as the server applied it, a
// session a shifting list shows twice kept once, a listing short of page 1's
// total read again (bounded) and then failed, since a missed session is
// silent data loss. It sends startDate/endDate yet filters on start itself,
// and on a list it has seen to be newest first it stops at the first page
// wholly before the window, so a tick costs the window's pages whether or
// not the server honours the bounds. Sessions that start while the list is
// paged start after To and are left to the next tick. The listing is a
// source of IDs (and of start, end and status for the report); its inline
// participants are a preview, never rows. Its requests go through a
// ListPageFetcher; Client.ListSessions supplies the client's own, so list
// pages share one retry loop (Client.get) with participants pages: the same
// pace, cap on requests in flight, back-pressure, token renewal and halt on a
// refused token, counted as Stats.ListPages. A list page given up on fails
// the listing (never a *SessionError).
//
// The simulator in extract/videosdktest serves the tests and the demo.
package extract
