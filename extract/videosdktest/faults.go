package videosdktest

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault is one way a request can fail.
type Fault uint8

const (
	FaultReset         Fault = iota + 1 // headers and part of the body, then a TCP reset
	Fault500JSON                        // 500 with a JSON error body
	Fault502HTML                        // 502 with an HTML page, as from a proxy
	Fault503RetryAfter                  // 503 with Retry-After in seconds
	Fault408                            // 408 request timeout
	Fault429Seconds                     // 429 with Retry-After in seconds
	Fault429Date                        // 429 with Retry-After as an HTTP date
	FaultTruncatedJSON                  // 200 with the first half of the body
	FaultHTML200                        // 200 with an HTML page, as from a captive proxy
	FaultLatency                        // served correctly, up to Faults.Latency late
	FaultStall                          // headers and part of the body, then nothing for Faults.Stall
)

// AllFaults is every Fault, the default mix.
var AllFaults = []Fault{FaultReset, Fault500JSON, Fault502HTML, Fault503RetryAfter, Fault408,
	Fault429Seconds, Fault429Date, FaultTruncatedJSON, FaultHTML200, FaultLatency, FaultStall}

var faultNames = map[Fault]string{
	FaultReset: "reset", Fault500JSON: "500_json", Fault502HTML: "502_html",
	Fault503RetryAfter: "503_retry_after", Fault408: "408", Fault429Seconds: "429_seconds",
	Fault429Date: "429_date", FaultTruncatedJSON: "truncated_json", FaultHTML200: "html_200",
	FaultLatency: "latency", FaultStall: "stall",
}

func (f Fault) String() string {
	if name, ok := faultNames[f]; ok {
		return name
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Faults is the fault mode of a Server.
type Faults struct {
	// Fraction of requests faulted, 0 to 1, drawn from a generator seeded
	// with Seed.
	Fraction float64
	Seed     int64
	Kinds    []Fault // default AllFaults, drawn uniformly
	// MaxConsecutive caps the faults one page gets in a row before it is
	// served; default 2.
	MaxConsecutive int
	// RetryAfter is sent with 429 and 503 faults, in whole seconds; zero
	// sends "0" (or the current time as a date): retry at once.
	RetryAfter time.Duration
	Latency    time.Duration // upper bound of FaultLatency's delay; default 50ms
	Stall      time.Duration // how long FaultStall hangs; default 2s
}

func (f Faults) withDefaults() Faults {
	if len(f.Kinds) == 0 {
		f.Kinds = AllFaults
	}
	if f.MaxConsecutive <= 0 {
		f.MaxConsecutive = 2
	}
	if f.Latency <= 0 {
		f.Latency = 50 * time.Millisecond
	}
	if f.Stall <= 0 {
		f.Stall = 2 * time.Second
	}
	return f
}

// failsAlone reports whether the fault needs no page body.
func (f Fault) failsAlone() bool {
	switch f {
	case Fault500JSON, Fault502HTML, Fault503RetryAfter, Fault408, Fault429Seconds, Fault429Date, FaultHTML200:
		return true
	}
	return false
}

// pickFault decides whether this request to a page fails, and how.
func (s *Server) pickFault(key string) Fault {
	f := s.opts.Faults
	if f.Fraction <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rnd.Float64() >= f.Fraction || s.streak[key] >= f.MaxConsecutive {
		return 0
	}
	fault := f.Kinds[s.rnd.IntN(len(f.Kinds))]
	if fault != FaultLatency {
		s.streak[key]++
	}
	s.served[fault]++
	return fault
}

func (s *Server) randDuration(upTo time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.rnd.Int64N(int64(upTo) + 1))
}

// serveFault answers with fault. body is the page the request would have
// got, for the faults that break one; done leaves the in-flight gauge
// before a connection is cut, so the client cannot be counted twice.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, fault Fault, body []byte, done func()) {
	retryAfter := int(s.opts.Faults.RetryAfter / time.Second)
	switch fault {
	case Fault500JSON:
		writeError(w, http.StatusInternalServerError, "internal error")
	case Fault502HTML:
		writeHTML(w, http.StatusBadGateway, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
	case Fault503RetryAfter:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusServiceUnavailable, "service unavailable")
	case Fault408:
		writeError(w, http.StatusRequestTimeout, "request timeout")
	case Fault429Seconds:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeError(w, http.StatusTooManyRequests, "too many requests")
	case Fault429Date:
		w.Header().Set("Retry-After", time.Now().Add(s.opts.Faults.RetryAfter).UTC().Format(http.TimeFormat))
		writeError(w, http.StatusTooManyRequests, "too many requests")
	case FaultHTML200:
		writeHTML(w, http.StatusOK, "<!DOCTYPE html><html><body><h1>Please log in to the network</h1></body></html>")
	case FaultTruncatedJSON:
		half := body[:len(body)/2]
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(half)))
		w.Write(half)
	case FaultStall:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/3])
		http.NewResponseController(w).Flush()
		wait(r, s.opts.Faults.Stall)
	case FaultReset:
		reset(w, body, done)
	}
}

func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	w.Write([]byte(page))
}

// reset writes the headers and part of the body by hand, then closes the
// connection with a TCP RST. Cutting mid-body keeps Go's transport from
// retrying the request unseen, as it may when nothing was read.
func reset(w http.ResponseWriter, body []byte, done func()) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	writeRaw(buf, body)
	done()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

func writeRaw(buf *bufio.ReadWriter, body []byte) {
	buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ")
	buf.WriteString(strconv.Itoa(len(body)))
	buf.WriteString("\r\n\r\n")
	buf.Write(body[:len(body)/2])
	buf.Flush()
}
