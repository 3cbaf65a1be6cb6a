package app

// WaitServerSync waits for the built-in server changes asked for so far (SetSettings, the end
// of a recording) to be done or refused, so a test can tell "nothing moved" from "not yet".
func (s *Session) WaitServerSync() { s.bg.Wait() }
