package videosdktest

// SetSession replaces the session with s's ID by a copy of s, or adds it
// if the server holds no such session: the world moving on between two
// runs (an ongoing session ends, a new one starts). Requests already being
// answered see the session before or after, never half of each.
func (s *Server) SetSession(sess Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[sess.ID]
	if !ok {
		s.addLocked(sess)
		return
	}
	s.sessions[i] = sess.clone()
	s.list.order = nil // its start or end may have moved
}

// EndOpen returns a copy of sess in which every interval without an end
// (null or absent) ends at end, given as the API sends it, and which no
// longer grows: the session as it looks once it is over.
func EndOpen(sess Session, end string) Session {
	c := sess.clone()
	c.Live = NotLive
	for i := range c.Participants {
		for k := range c.Participants[i].Timelog {
			if e := &c.Participants[i].Timelog[k]; e.EndIs != Present {
				e.End, e.EndIs = end, Present
			}
		}
	}
	return c
}

// EndOngoing ends, on s, every one of sessions still ongoing, at end (see
// EndOpen): the world moving on between two ticks.
func (s *Server) EndOngoing(sessions []Session, end string) {
	for _, sess := range sessions {
		if !sess.Ended() {
			s.SetSession(EndOpen(sess, end))
		}
	}
}

// ParticipantsRequested returns the sessions whose participants pages were
// requested after the first n requests the server received.
func (s *Server) ParticipantsRequested(n int) map[string]bool {
	got := map[string]bool{}
	uris := s.RequestURIs()
	for _, uri := range uris[min(n, len(uris)):] {
		if id, ok := sessionFromPath(uri); ok {
			got[id] = true
		}
	}
	return got
}

// Ended reports whether every timelog entry of s sends an end, from the
// raw data: a test's own idea of a complete session.
func (s Session) Ended() bool {
	for _, p := range s.Participants {
		if p.TimelogIs != Present {
			continue
		}
		for _, e := range p.Timelog {
			if e.EndIs != Present {
				return false
			}
		}
	}
	return true
}
