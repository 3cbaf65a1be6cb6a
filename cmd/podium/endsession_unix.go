//go:build unix

package main

import "os"

// notifyEndSession is for Windows, where the end of the session comes as a window message
// (endsession_windows.go). On Linux and macOS, logging out or shutting down sends SIGTERM
// (systemd-logind, launchd), which the callers already handle.
func notifyEndSession(chan<- os.Signal) (stop func()) { return func() {} }
