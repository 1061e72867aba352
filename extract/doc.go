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
// ListPageFetcher, the client's paced and retried GET.
//
// The simulator in extract/videosdktest serves the tests and the demo.
package extract
