package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"podium/app"
	"podium/app/studio"
)

// uploadCmd finishes the studio copies that earlier recordings left unfinished.
func uploadCmd(args []string) error {
	fs := flag.NewFlagSet("podium upload", flag.ContinueOnError)
	token := fs.String("token", os.Getenv("PODIUM_TOKEN"), "Bearer token for the server (default $PODIUM_TOKEN)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: podium upload [--token T] [FILE.mp3 | FOLDER]...\n"+
			"finishes the studio copies left unfinished (default folder: %s)\n", app.DefaultRecordingsDir())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{app.DefaultRecordingsDir()}
	}
	var ups []*studio.Uploader
	for _, p := range paths {
		files := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files = studio.Pending(p)
		}
		for _, f := range files {
			u, err := pendingUploader(f, *token)
			if err != nil {
				return err
			}
			defer u.Close()
			go u.Finish(context.Background())
			ups = append(ups, u)
		}
	}
	if len(ups) == 0 {
		fmt.Fprintln(os.Stderr, "no studio copy left to upload")
		return nil
	}
	return finishUploads(ups)
}

// pendingUploader takes up the upload that the sidecar of the recording at path remembers.
func pendingUploader(path, token string) (*studio.Uploader, error) {
	u, repaired, err := studio.Resume(path, token)
	if repaired {
		fmt.Fprintf(os.Stderr, "recovered an interrupted recording: %s\n", path)
	}
	return u, err
}

// finishUploads completes ups with a progress line until each copy is on the server, has
// failed for good, or Ctrl-C leaves the rest for `podium upload`.
func finishUploads(ups []*studio.Uploader) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	done := make(chan error, len(ups))
	for _, u := range ups {
		go func() { done <- u.Finish(ctx) }()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var errs []error
	for left := len(ups); left > 0; {
		select {
		case err := <-done:
			left--
			switch {
			case err == nil, errors.Is(err, context.Canceled), errors.Is(err, studio.ErrLiveOnly):
			case errors.Is(err, studio.ErrNoRoom):
				fmt.Fprintln(os.Stderr, "\nstudio copy:", err) // the recording itself is fine
			default:
				errs = append(errs, err)
			}
		case <-tick.C:
			var sent, size int64
			state := studio.Done
			for _, u := range ups {
				st := u.Status()
				sent, size = sent+st.Sent, size+st.Size
				if st.State != studio.Done {
					state = st.State
				}
			}
			fmt.Fprintf(os.Stderr, "\rstudio copy: %s, %s of %s (Ctrl-C to finish later with podium upload)   ",
				state, mb(sent), mb(size))
		}
	}
	fmt.Fprintln(os.Stderr)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "studio copy: left for later; run podium upload to finish it")
		return nil
	}
	for _, u := range ups {
		st := u.Status()
		switch st.State {
		case studio.Done:
			fmt.Fprintf(os.Stderr, "studio copy: on the server as %q (%s)\n", st.Name, mb(st.Size))
		case studio.LiveOnly:
			fmt.Fprintln(os.Stderr, "studio copy: none, the server is live only")
		}
	}
	return errors.Join(errs...)
}

func mb(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%d kB", (n+500)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
