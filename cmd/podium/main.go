// Command podium is the presenter's app: with no subcommand it opens the window; with one it
// runs headless.
package main

import (
	"fmt"
	"os"
)

const usage = `podium — record and stream a live talk

usage:
  podium                    open the window
  podium devices            list microphones (* marks the default)
  podium record [flags]     record to an MP3 without a window (see podium record -h)
  podium upload [FILE|DIR]  finish studio copies left unfinished (see podium upload -h)
`

func main() {
	args := os.Args[1:]
	cmd := "window"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "window":
		err = windowCmd(args)
	case "devices":
		err = devicesCmd(args)
	case "record":
		err = recordCmd(args)
	case "upload":
		err = uploadCmd(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "podium: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "podium:", err)
		os.Exit(1)
	}
}
