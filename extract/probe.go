package extract

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// A client whose first requests all fail the same way, none succeeding,
// stops: a refused connection or no answer after unreachableAfter of them,
// the same HTTP error after unusableAfter (more, because a list may well
// begin with a few sessions that no longer exist).
const (
	unreachableAfter = 4 // the requests the client opens with: one round of them
	unusableAfter    = 25
)

// probe watches a client's first requests for an API that cannot be used
// at all: a wrong URL, a server that is down or never answers. Once any
// request succeeds, or two fail differently, it has nothing more to say.
type probe struct {
	done atomic.Bool
	mu   sync.Mutex
	how  string // the way every request so far failed
	n    int
}

// record notes the outcome of one attempt, and stops c when its first
// requests have all failed the same way.
func (p *probe) record(c *Client, err error) {
	if p.done.Load() {
		return
	}
	how, limit, ok := failedHow(err)
	if !ok {
		return // not the API's doing: a cancelled run, a stopped client
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if how == "" || (p.n > 0 && how != p.how) {
		p.done.Store(true)
		return
	}
	p.how = how
	p.n++
	if p.n >= limit {
		p.done.Store(true)
		c.stop(fmt.Errorf("%w: %s the first %d requests %s; last: %s", ErrAPIUnreachable,
			lead(how), p.n, how, oneLine(err.Error())))
	}
}

func lead(how string) string {
	switch how {
	case howNoAnswer:
		return "the API does not answer:"
	case howRefused, howNoHost:
		return "the API cannot be reached:"
	}
	return "the API fails every request, check the API URL:"
}

const (
	howNoAnswer = "got no response headers in time"
	howRefused  = "were refused a connection"
	howNoHost   = "could not resolve the API host"
)

// failedHow names the way an attempt failed, "" if the API answered it
// usefully (a page, back-pressure, a body that is not the schema), with
// the number of such failures in a row that stop the client. ok is false
// for outcomes that say nothing about the API.
func failedHow(err error) (how string, limit int, ok bool) {
	if err == nil {
		return "", 0, true
	}
	var te *transientError
	var he *httpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &te):
		switch {
		case te.backPressure || te.renewed:
			return "", 0, true
		case te.noAnswer:
			return howNoAnswer, unreachableAfter, true
		case errors.Is(te.err, syscall.ECONNREFUSED):
			return howRefused, unreachableAfter, true
		case errors.As(te.err, &dns):
			return howNoHost, unreachableAfter, true
		case te.reply != "":
			return "were answered " + te.reply, unusableAfter, true
		}
		return "", 0, true
	case errors.As(err, &he):
		return "were answered " + he.reply, unusableAfter, true
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrAPIUnreachable):
		return "", 0, false
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return "", 0, true // a 200 off the schema: the API answers
	}
	return "", 0, false // the context's
}
