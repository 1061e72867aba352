package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
	"github.com/participants-etl/participants-etl/internal/tabletest"
)

// pagedSessions makes n sessions of size participants each, plain enough
// that the page count is known: ceil(size/50) pages at the simulator's cap.
func pagedSessions(prefix string, n, size int) []videosdktest.Session {
	sessions := videosdktest.Generate(31, n)
	for i := range sessions {
		s := &sessions[i]
		s.ID = fmt.Sprintf("%s-%03d", prefix, i)
		s.Live, s.ParticipantsIs = videosdktest.NotLive, videosdktest.Present
		for len(s.Participants) < size {
			s.Participants = append(s.Participants, videosdktest.Participant{
				ID: fmt.Sprintf("p%05d", len(s.Participants)), Name: "x",
				Timelog: []videosdktest.Entry{{Start: "2021-10-25T05:09:58.934Z", End: "2021-10-25T06:09:58.934Z"}},
			})
		}
		s.Participants = s.Participants[:size]
	}
	return sessions
}

// TestUnknownRateLimitIsFound: a server allowing 60 requests/s, which the
// job is not told, at --concurrency 32 and no --rate. The output must be
// exact, the server's rate mostly used, and 429s few. It runs on a fake
// clock (inBubble): 8 seconds of it, measured exactly whatever the
// machine's load. Pages of 5 participants keep its CPU low.
func TestUnknownRateLimitIsFound(t *testing.T) {
	const limit = 60.0
	for _, tc := range []struct {
		name string
		form videosdktest.RetryAfterForm
	}{
		{"no Retry-After", videosdktest.RetryAfterNone},
		{"Retry-After as an HTTP date", videosdktest.RetryAfterDate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				sessions := pagedSessions("s", 60, 40) // 8 pages each of 5: 480 pages, 8s at the limit
				srv := newSim(t, videosdktest.Options{InMemory: true, Sessions: sessions, RateLimit: limit, RateLimitRetryAfter: tc.form, MaxPerPage: 5})
				out := t.TempDir()
				start := time.Now()
				res := runCLIOn(t, t.Context(), srv.Client(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
					"--output", out, "--api-url", srv.URL(), "--concurrency", "32")
				elapsed := time.Since(start)
				if res.code != exitOK {
					t.Fatalf("exit %d; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
				}
				rep := onlyReport(t, out)
				checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, start, time.Now())

				limited := srv.RateLimited()
				accepted := srv.Requests() - limited
				used := float64(accepted) / (elapsed.Seconds() * limit)
				ratio := float64(limited) / float64(accepted)
				t.Logf("%d requests accepted and %d refused (429) in %v: %.0f%% of the allowed %v/s used, 429s %.1f%% of successes",
					accepted, limited, elapsed.Round(time.Millisecond), 100*used, limit, 100*ratio)
				if accepted < 480 {
					t.Fatalf("only %d requests accepted for 480 pages", accepted)
				}
				// The acceptance numbers: at least 80% of the rate, at most
				// one 429 per ten successes. On the fake clock the use no
				// longer depends on the machine (on a real one, a load of 15
				// on 2 cores stretched it to 54-69%), so it is asserted as is.
				if ratio > 0.10 {
					t.Errorf("429s are %.1f%% of successful requests, want at most 10%%", 100*ratio)
				}
				if used < 0.80 {
					t.Errorf("used %.0f%% of the server's rate, want at least 80%%", 100*used)
				}
			})
		})
	}
}

// TestEmptySessionsParticipantsNull: sessions nobody stayed in answer
// total 0 with participants null or left out: zero rows, not failures.
func TestEmptySessionsParticipantsNull(t *testing.T) {
	sessions := videosdktest.Generate(17, 12)
	for i, is := range []videosdktest.Presence{videosdktest.Null, videosdktest.Absent, videosdktest.Null, videosdktest.Present} {
		sessions = append(sessions, videosdktest.Session{ID: fmt.Sprintf("empty-%d", i), ParticipantsIs: is,
			RoomIDIs: videosdktest.Presence(i % 3), CustomRoomIDIs: videosdktest.Presence((i + 1) % 3)})
	}
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	start := time.Now()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
		"--output", out, "--api-url", srv.URL())
	if res.code != exitOK {
		t.Fatalf("exit %d; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
	}
	rep := onlyReport(t, out)
	checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, start, time.Now())
	if rep.Counts.SessionsExported != len(sessions) || rep.Counts.SessionsFailed != 0 {
		t.Errorf("exported %d of %d sessions, %d failed", rep.Counts.SessionsExported, len(sessions), rep.Counts.SessionsFailed)
	}
}

// TestTokenRefusedForAgeIsRenewed: the server refuses a token 2s after it
// first accepted it, during a run of several seconds (of a fake clock).
// The job mints a fresh one and the output is exact.
func TestTokenRefusedForAgeIsRenewed(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		sessions := pagedSessions("t", 30, 300) // 180 pages at 30/s: 6s
		srv := newSim(t, videosdktest.Options{InMemory: true, Sessions: sessions, RateLimit: 30, TokenMaxAge: 2 * time.Second})
		out := t.TempDir()
		start := time.Now()
		res := runCLIOn(t, t.Context(), srv.Client(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
			"--output", out, "--api-url", srv.URL(), "--rate", "30")
		if res.code != exitOK {
			t.Fatalf("exit %d; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
		}
		took := time.Since(start)
		rep := onlyReport(t, out)
		checkRows(t, tabletest.ReadTable(t, out), wantRows(t, srv.Snapshot()), rep.RunID, start, time.Now())
		renewed := rep.API.RetriesByCause["token_refused"]
		t.Logf("run of %v: %d refusals of an aged token, %d requests retried with a fresh one", took.Round(time.Millisecond), srv.TokensAged(), renewed)
		if took < 5*time.Second || srv.TokensAged() == 0 || renewed == 0 {
			t.Errorf("run of %v, %d aged tokens refused, %d renewals: the test did not exercise renewal", took, srv.TokensAged(), renewed)
		}
	})
}

// TestServerThatNeverAnswers: at the default flags the run fails within a
// minute (of a fake clock), after one round of its opening requests, says
// the API does not answer, and writes its report.
func TestServerThatNeverAnswers(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		sessions := videosdktest.Generate(3, 40)
		srv := newSim(t, videosdktest.Options{InMemory: true, Sessions: sessions, NeverAnswer: true})
		out := t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		res := runCLIOn(t, ctx, srv.Client(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
			"--output", out, "--api-url", srv.URL())
		took := time.Since(start)
		t.Logf("failed after %v", took)
		if res.code != exitFailed {
			t.Fatalf("exit %d, want 1; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
		}
		if took > time.Minute {
			t.Errorf("took %v to give up on a server that never answers", took)
		}
		rep := onlyReport(t, out)
		if rep.Status != "failed" || !strings.Contains(rep.Error, "the API does not answer") {
			t.Errorf("report status %q error %q, want failed saying the API does not answer", rep.Status, rep.Error)
		}
		if !strings.Contains(res.stderr, `"severity":"WARNING","message":"retrying page"`) || !strings.Contains(res.stderr, `"delay_seconds"`) {
			t.Errorf("no retry warning in the log:\n%s", tail(res.stderr, 2000))
		}
		if n := srv.Requests(); n > 16 {
			t.Errorf("%d requests sent to a server that never answers; want the first few only", n)
		}
		// One round: the requests whose silence stopped the run were
		// waiting together, so the run waited one first-byte timeout, not
		// one per request.
		m := regexp.MustCompile(`the first (\d+) requests`).FindStringSubmatch(rep.Error)
		if m == nil {
			t.Fatalf("report error %q does not say how many requests went unanswered", rep.Error)
		}
		silent, _ := strconv.Atoi(m[1])
		if n := srv.MaxInFlight(); n < silent {
			t.Errorf("the %d unanswered requests that stopped the run were at most %d at once: it waited out the timeout %d times in a row or more",
				silent, n, (silent+n-1)/n)
		}
	})
}

// TestWrongAPIURLStopsEarly: --api-url with /v2 makes every request a 404
// "no such route"; the run stops early saying so, not after the whole list.
func TestWrongAPIURLStopsEarly(t *testing.T) {
	sessions := videosdktest.Generate(5, 80)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	res := runCLI(t, t.Context(), credsEnv(nil), "", "run", "--sessions", writeList(t, ids(sessions)...),
		"--output", out, "--api-url", srv.URL()+"/v2")
	if res.code != exitFailed {
		t.Fatalf("exit %d, want 1; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
	}
	rep := onlyReport(t, out)
	if !strings.Contains(rep.Error, "HTTP 404: no such route") || !strings.Contains(rep.Error, "API URL") {
		t.Errorf("report error %q, want the 404 and a hint at the API URL", rep.Error)
	}
	if n := srv.Requests(); n >= int64(len(sessions)) {
		t.Errorf("%d requests for %d sessions: the run ground through the list", n, len(sessions))
	}
}

// TestRefusedStaticTokenSaysWhy: a given token that the server refuses
// stops the run (exit 2), and the message says it had expired and how many
// sessions were fetched first, without the token.
func TestRefusedStaticTokenSaysWhy(t *testing.T) {
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"apikey": testAPIKey, "roles": []string{"crawler"}, "exp": time.Now().Add(-90 * time.Minute).Unix(),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	sessions := videosdktest.Generate(5, 10)
	srv := newSim(t, videosdktest.Options{Sessions: sessions})
	out := t.TempDir()
	res := runCLI(t, t.Context(), envMap(map[string]string{"VIDEOSDK_TOKEN": expired}), "", "run",
		"--sessions", writeList(t, ids(sessions)...), "--output", out, "--api-url", srv.URL())
	if res.code != exitUsage {
		t.Fatalf("exit %d, want 2; stderr tail:\n%s", res.code, tail(res.stderr, 3000))
	}
	rep := onlyReport(t, out)
	for _, want := range []string{"had expired at", "0 sessions were fetched before", "VIDEOSDK_TOKEN"} {
		if !strings.Contains(rep.Error, want) {
			t.Errorf("report error %q lacks %q", rep.Error, want)
		}
	}
	if strings.Contains(res.stderr+res.stdout+rep.Error, expired) {
		t.Error("the token appears in the output")
	}
}

func TestTokenAndKeyBothSetIsAUsageError(t *testing.T) {
	for _, v := range []string{"VIDEOSDK_API_KEY", "VIDEOSDK_SECRET_KEY", "VIDEOSDK_SECRET_KEY_FILE"} {
		res := runCLI(t, t.Context(), envMap(map[string]string{"VIDEOSDK_TOKEN": "tok", v: "x"}), "", "run",
			"--sessions", "-", "--output", t.TempDir())
		if res.code != exitUsage || !strings.Contains(res.stderr, "both VIDEOSDK_TOKEN and "+v) {
			t.Errorf("VIDEOSDK_TOKEN with %s: exit %d, stderr %q; want 2 naming both", v, res.code, res.stderr)
		}
	}
}
