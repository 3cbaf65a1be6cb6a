// Command podium is the presenter's app. With a subcommand it runs headless.
package main

import (
	"fmt"
	"os"
)

const usage = `podium — record and stream a live talk

usage:
  podium                    record the default microphone until Ctrl-C (the window comes later)
  podium devices            list microphones (* marks the default)
  podium record [flags]     record to an MP3 (see podium record -h)
`

func main() {
	args := os.Args[1:]
	cmd := "record"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "devices":
		err = devicesCmd(args)
	case "record":
		err = recordCmd(args)
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
