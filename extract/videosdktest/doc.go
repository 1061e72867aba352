// Package videosdktest serves a simulated VideoSDK v2 API (participants and
// the session list) on 127.0.0.1, the way net/http/httptest sits beside
// net/http. It backs the extract tests, the end-to-end tests and the demo.
//
// A Server holds Sessions whose data are kept as the API would send them:
// timestamps as raw strings in any RFC 3339 form, names and timelogs that
// are present, null or absent (see Presence). It mimics what is known of
// the real service (VideoSDK's reference and its official server SDKs; the
// service itself is not reachable from CI):
//
//   - GET /v2/sessions/{sessionId}/participants?page=&perPage=, page from 1,
//     answered with {"pageInfo": {currentPage, perPage, lastPage, total},
//     "data": session}, where lastPage = ceil(total/perPage) and data is the
//     session object or a one-element array holding it (the SDKs accept both);
//   - the bare JWT in Authorization (no "Bearer"), HS256 with the configured
//     secret, roles containing "crawler", not expired; or a configured static
//     token; 401 otherwise;
//   - perPage capped by the server and the capped value reported in pageInfo;
//   - a JSON 404 for an unknown session; error bodies as JSON
//     ({"statusCode", "error", "message"}) or, as proxies send them, HTML;
//   - optional fields present, null or absent (roomId, customRoomId, name,
//     timelog, a timelog's start and end; end is null while a participant
//     is still in), and extra fields the client must ignore;
//   - live sessions that gain participants on every request, at the end of
//     the list or at the front (shifting every page), so that pages of one
//     read disagree the way the real service's do.
//   - a session's participants sent null or left out
//     (Session.ParticipantsIs), as the API does for a session nobody stayed
//     in.
//
// Fault mode (Options.Faults) makes a seeded fraction of requests fail the
// way a real API behind proxies does: connection resets mid-body, 500/502/503
// with JSON or HTML bodies, 408, 429 with Retry-After in seconds or as an
// HTTP date, truncated JSON and HTML on a 200, latency, and bodies that stall
// longer than the client's timeout. No page is faulted more than
// Faults.MaxConsecutive times in a row, so a client that retries always gets
// through. Options.RateLimit adds a server-side token bucket answering 429,
// with Retry-After in seconds, as an HTTP date or not at all
// (RateLimitRetryAfter). Options.TokenMaxAge refuses a token some time after
// its first use (a server-side validity shorter than exp), and
// Options.NeverAnswer takes every request and never answers.
// Options.InMemory serves over in-memory connections instead of a socket,
// so that a test runs client and server in a testing/synctest bubble, on a
// fake clock.
//
// The session list, GET /v2/sessions/?roomId=&customRoomId=&page=&perPage=
// &startDate=&endDate=, lists the sessions newest first by Session.Start
// (ListOptions.Order: oldest first or as held), perPage capped (also by
// ListOptions.MaxPerPage), filtered by one roomId and one customRoomId, and
// by startDate/endDate (epoch ms, inclusive) unless IgnoreDateBounds. Each
// item has id, roomId, customRoomId, start, end (null while ongoing), status
// (Session.Status, else "ongoing" or "ended"), links and a preview of at
// most ListOptions.Preview participants (2), never the whole list. Knobs
// make it as nasty as the participants: Arrivals starts sessions before each
// list answer, shifting a newest-first list so one session shows on two
// pages; HideOneFor loses a session from the first answers while counting
// it in total; Override serves any body for a page. List requests go through
// the same auth, rate limit and faults; ListRequests counts them. AddSession
// starts a session at any time; SetSession replaces one (or adds it), and
// EndOpen gives a copy whose open intervals have ended (EndOngoing ends
// every ongoing one of a set on the server), so that tests of incremental
// exports can move the world on between two ticks. Session.StartTime is
// when the list says a session started (DefaultStart unless set).
//
// Gauges (MaxInFlight, Requests, RateLimited, TokensAged, RequestURIs) and
// Snapshot, the data as they
// stand after any live growth, let tests check what the client did and got;
// Session.Want gives a snapshot in extract's types. Live growth lasts for
// the life of the Server: a second export against the same Server sees more
// participants than the first, until each live session reaches its LiveCap.
// Generate makes a realistic set of sessions for tests and the demo.
package videosdktest
