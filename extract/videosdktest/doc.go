// Package videosdktest serves a simulated VideoSDK v2 participants API on
// 127.0.0.1, the way net/http/httptest sits beside net/http. It backs the
// extract tests, the end-to-end tests and the demo.
//
// A Server holds Sessions whose data are kept as the API would send them:
// timestamps as raw strings in any RFC 3339 form, names and timelogs that
// are present, null or absent (see Presence). It behaves like the service
// described in shared/api/NOTES.md: the bare JWT in Authorization is checked
// (HS256 with the configured secret, roles containing "crawler", not
// expired) or a configured static token is accepted; perPage is capped and
// the capped value reported; unknown sessions get a JSON 404; responses carry
// fields the client must ignore; a session may come back with data as a
// one-element array; live sessions gain participants on every request, at
// the end of the list or at the front (shifting every page). A session's
// participants may be sent null or left out (Session.ParticipantsIs), as the
// API does for a session nobody stayed in.
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
//
// Gauges (MaxInFlight, Requests, RateLimited, TokensAged, RequestURIs) and Snapshot, the data as they
// stand after any live growth, let tests check what the client did and got;
// Session.Want gives a snapshot in extract's types. Live growth lasts for
// the life of the Server: a second export against the same Server sees more
// participants than the first, until each live session reaches its LiveCap.
// Generate makes a realistic set of sessions for tests and the demo.
package videosdktest
