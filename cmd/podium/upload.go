package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"podium/app"
	"podium/app/studio"
	"podium/rtc/proto"
)

// uploadCmd finishes the studio copies that earlier recordings left unfinished.
func uploadCmd(args []string) error {
	fs := flag.NewFlagSet("podium upload", flag.ContinueOnError)
	token := fs.String("token", os.Getenv("PODIUM_TOKEN"), "Bearer token for the server (default $PODIUM_TOKEN)")
	server := fs.String("server", "", "finish only the copies for this server (its WHIP endpoint or base URL), the one the token is for; needed when the copies are for more than one")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: podium upload [--token T] [--server URL] [FILE.mp3 | FOLDER]...\n"+
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
	var files []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files = append(files, studio.Pending(p)...)
		} else {
			files = append(files, p)
		}
	}
	base, err := uploadServer(*server, files)
	if err != nil {
		return err
	}
	var ups []*studio.Uploader
	for _, f := range files {
		u, err := pendingUploader(f, base, *token)
		if errors.Is(err, proto.ErrOtherOrigin) && *server != "" {
			fmt.Fprintf(os.Stderr, "studio copy: left: %v\n", err)
			continue
		}
		if err != nil {
			return err
		}
		defer u.Close()
		go u.Finish(context.Background())
		ups = append(ups, u)
	}
	if len(ups) == 0 {
		fmt.Fprintln(os.Stderr, "no studio copy left to upload")
		return nil
	}
	fmt.Fprintf(os.Stderr, "studio copy: %d to %s\n", len(ups), base)
	return finishUploads(ups, nil)
}

// uploadServer is the server the token goes to: --server's, or else the one server that the
// copies' sidecars name. The token is for one server; a sidecar in the folder does not choose
// where it goes.
func uploadServer(server string, files []string) (string, error) {
	if server != "" {
		if base, _ := proto.SplitWHIP(server); base != "" {
			return base, nil
		}
		return strings.TrimSuffix(server, "/"), nil
	}
	var servers []string
	for _, f := range files {
		if side, err := studio.ReadSidecar(f); err == nil && !slices.Contains(servers, side.Server) {
			servers = append(servers, side.Server)
		}
	}
	if len(servers) > 1 {
		return "", fmt.Errorf("upload: the copies are for %d servers (%s): say with --server which one the token is for", len(servers), strings.Join(servers, ", "))
	}
	if len(servers) == 0 {
		return "", nil
	}
	return servers[0], nil
}

// pendingUploader takes up the upload that the sidecar of the recording at path remembers,
// if it is for server (the token's).
func pendingUploader(path, server, token string) (*studio.Uploader, error) {
	u, repaired, err := studio.Resume(path, server, token)
	if repaired {
		fmt.Fprintf(os.Stderr, "recovered an interrupted recording: %s\n", path)
	}
	return u, err
}

// othersTry is how long finishUploads goes on with the other copies once the ones that
// decide are finished: a copy an earlier run left does not hold podium record up.
const othersTry = 10 * time.Second

// finishUploads completes ups with a progress line until each copy is on the server, has
// failed for good, or Ctrl-C leaves the rest for `podium upload`. others (copies earlier runs
// left) go on beside them and for at most othersTry after them; what is left then is named,
// with its server, for `podium upload`.
func finishUploads(ups, others []*studio.Uploader) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	othersCtx, endOthers := context.WithCancel(ctx)
	defer endOthers()
	type result struct {
		other bool
		err   error
	}
	done := make(chan result, len(ups)+len(others))
	for _, u := range ups {
		go func() { done <- result{false, u.Finish(ctx)} }()
	}
	for _, u := range others {
		go func() { done <- result{true, u.Finish(othersCtx)} }()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var errs []error
	var othersEnd <-chan time.Time
	var othersBy time.Time
	for left, leftOthers := len(ups), len(others); left+leftOthers > 0; {
		select {
		case r := <-done:
			if r.other {
				leftOthers--
			} else {
				left--
			}
			switch {
			case r.err == nil, errors.Is(r.err, context.Canceled), errors.Is(r.err, studio.ErrLiveOnly):
			case errors.Is(r.err, studio.ErrNoRoom):
				fmt.Fprintln(os.Stderr, "\nstudio copy:", r.err) // the recording itself is fine
			case r.other: // named below; this run's recording is not its business
			default:
				errs = append(errs, r.err)
			}
			if left == 0 && leftOthers > 0 && othersEnd == nil {
				othersEnd, othersBy = time.After(othersTry), time.Now().Add(othersTry)
			}
		case <-othersEnd:
			endOthers()
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
			if left == 0 {
				fmt.Fprintf(os.Stderr, "\rstudio copy: %s; earlier copies: %d finishing (at most %s more)   ",
					state, leftOthers, time.Until(othersBy).Round(time.Second))
				continue
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
	for _, u := range others {
		st := u.Status()
		switch st.State {
		case studio.Done:
			fmt.Fprintf(os.Stderr, "studio copy of %s: on the server as %q\n", u.Path(), st.Name)
		case studio.LiveOnly:
		default:
			fmt.Fprintf(os.Stderr, "studio copy of %s: %s at %s (%v); left for podium upload\n", u.Path(), st.State, u.Server(), st.Err)
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
