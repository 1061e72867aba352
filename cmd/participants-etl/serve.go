package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/participants-etl/participants-etl/extract/videosdktest"
)

// serve runs the built-in VideoSDK simulator on a loopback address until
// SIGTERM or SIGINT, and prints what `run` and `schedule` need to talk to
// it: the environment variables and a session list file, or the
// --sessions videosdk: arguments whose window holds every session. It is how a
// newcomer without VideoSDK credentials follows the README's "Running it".
func (p *process) serve(ctx context.Context, args []string) error {
	var (
		count int
		seed  int64
		list  string
	)
	fs := newFlagSet("serve", "Usage: participants-etl serve [flags]\n\n"+
		"Serves a simulated VideoSDK API on 127.0.0.1 until interrupted, writes a session\n"+
		"list, and prints the environment to point run and schedule at it.\n\n", p.getenv, p.stdout)
	fs.int(&count, "session-count", "", 300, "sessions the simulator generates")
	fs.Int64Var(&seed, "seed", 1, "seed of the generated sessions")
	fs.str(&list, "list", "", "sessions.txt", "where to write the session list (one ID per line)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if count < 1 || count > 100_000 {
		return usagef("--session-count %d: want 1 to 100000", count)
	}
	sessions := videosdktest.Generate(seed, count)
	var ids strings.Builder
	for _, s := range sessions {
		ids.WriteString(s.ID + "\n")
	}
	if err := os.WriteFile(list, []byte(ids.String()), 0o644); err != nil {
		return usagef("--list %s: %v", list, unwrapPathError(err))
	}
	abs, _ := filepath.Abs(list)
	oldest, newest := demoStarts(sessions)
	logical := newest.Add(time.Hour)
	hours := int(math.Ceil(logical.Sub(oldest).Hours()))
	srv := videosdktest.NewServer(videosdktest.Options{Sessions: sessions, APIKey: demoAPIKey, Secret: []byte(demoSecret)})
	defer srv.Close()
	fmt.Fprintf(p.stdout, `# A simulated VideoSDK API with %d sessions is listening; stop it with Ctrl-C.
# In another shell:
export VIDEOSDK_API_URL=%s
export VIDEOSDK_API_KEY=%s
export VIDEOSDK_SECRET_KEY=%s
participants-etl run --sessions %s --output ./out
# or let the job list the sessions itself (the window holds every generated session):
participants-etl run --sessions videosdk: --logical-time %s --lookback %dh --output ./out
`, count, srv.URL(), demoAPIKey, demoSecret, abs, logical.Format(time.RFC3339), hours)
	<-ctx.Done()
	return nil
}
