package app

// WaitServerSync waits for the built-in server changes asked for so far (SetSettings, the end
// of a recording) to be done or refused, so a test can tell "nothing moved" from "not yet".
func (s *Session) WaitServerSync() { s.bg.Wait() }

// LocalToken is the built-in server's publisher token ("" when it is not running), for
// tests that read its /metrics.
func (s *Session) LocalToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.local == nil {
		return ""
	}
	return s.local.Token
}

// FetchListeners is fetchListeners, for the test of where its token goes.
var FetchListeners = fetchListeners
