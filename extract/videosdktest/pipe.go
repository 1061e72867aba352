package videosdktest

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// serveInMemory serves s over in-memory connections (Options.InMemory).
func (s *Server) serveInMemory() {
	l := &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	hs := &http.Server{Handler: s}
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.dial}
	s.url = "http://" + l.Addr().String()
	s.client = &http.Client{Transport: tr}
	s.close = func() {
		hs.Close() // the listener and every connection, so stalled handlers end
		<-served
		tr.CloseIdleConnections()
	}
}

// pipeListener hands Accept the server's end of each connection dial makes.
type pipeListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "videosdk.pipe" }
