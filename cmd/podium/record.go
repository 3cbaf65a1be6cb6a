package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"podium/app"
	"podium/app/studio"
	"podium/audio/capture"
	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/audio/voice"
	"podium/rtc/proto"
	"podium/rtc/whip"
)

func devicesCmd(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("devices takes no arguments")
	}
	devs, err := capture.List()
	if err != nil {
		return err
	}
	if len(devs) == 0 {
		return capture.ErrNoDevice
	}
	for _, d := range devs {
		mark := " "
		if d.Default {
			mark = "*"
		}
		fmt.Printf("%s %-40s  %s\n", mark, d.Name, d.ID)
	}
	return nil
}

func recordCmd(args []string) error {
	fs := flag.NewFlagSet("podium record", flag.ContinueOnError)
	out := fs.String("out", "", "MP3 file to write (default: a new file in "+app.DefaultRecordingsDir()+")")
	device := fs.String("device", "", "microphone ID, name or part of its name (default: the system default)")
	input := fs.String("input", "", "record a 48 kHz 16-bit WAV file instead of a microphone (paced in real time)")
	fast := fs.Bool("fast", false, "with --input: as fast as possible instead of real time")
	duration := fs.Duration("duration", 0, "stop after this much audio (default: until Ctrl-C, or the end of --input)")
	bitrate := fs.Int("bitrate", mp3.DefaultBitrate, "MP3 bitrate in kbps")
	title := fs.String("title", "", "title of the talk, for the recording's tag and the server (a line read on standard input marks a chapter: the line is its name)")
	presenter := fs.String("presenter", "", "presenter, for the recording's tag and the server")
	server := fs.String("server", "", "WHIP endpoint to publish to live while recording")
	token := fs.String("token", os.Getenv("PODIUM_TOKEN"), "Bearer token for --server (default $PODIUM_TOKEN)")
	denoise := fs.Bool("denoise", false, "clean up background noise (the recording and the live stream)")
	level := fs.Bool("level", false, "keep the level steady at --target (the recording and the live stream)")
	target := fs.Float64("target", 0, fmt.Sprintf("loudness target for --level in LUFS, %g…%g (default %g)", voice.MinTarget, voice.MaxTarget, voice.DefaultTarget))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("record: unexpected argument %q", fs.Arg(0))
	}
	if *duration < 0 {
		return fmt.Errorf("record: --duration must be positive")
	}
	vo := voice.Options{Denoise: *denoise, Level: *level, Target: *target}
	if err := vo.Check(); err != nil {
		return fmt.Errorf("record: --target: %w", err)
	}
	// Without --out the recording is a new file in the default folder, never one that exists.
	folder := ""
	if *out == "" {
		folder, *out = app.DefaultRecordingsDir(), app.DefaultSettings().FileName(time.Now())
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return fmt.Errorf("recordings folder %q: %w", folder, err)
		}
	}
	if filepath.Ext(*out) != ".mp3" {
		return fmt.Errorf("record: --out %q must end in .mp3", *out)
	}
	dir := filepath.Dir(*out)
	if folder != "" {
		dir = folder
	}
	// The next start repairs what a crash left: recordings beside this one that never got
	// their header are rebuilt and marked recovered.
	fixed, err := app.History{Dir: dir}.Repair(*out)
	for _, f := range fixed {
		fmt.Fprintf(os.Stderr, "recovered an interrupted recording: %s\n", f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "podium:", err)
	}
	// Ctrl-C (SIGINT) ends the recording, then the studio copy is waited for (a second Ctrl-C
	// leaves it for later); SIGTERM, as a service manager sends, ends both at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stopEndSession := notifyEndSession(sigs) // logging off or shutting down Windows: SIGTERM too
	var terminated atomic.Bool
	go func() {
		if sig, ok := <-sigs; ok {
			terminated.Store(sig == syscall.SIGTERM)
			cancel()
		}
	}()

	var live *whip.Client
	if *server != "" {
		var err error
		live, err = app.StartLive(ctx, *server, *token, *title, *presenter, func(st whip.Status) {
			fmt.Fprintf(os.Stderr, "\nlive: %s\n", describe(st))
		})
		if err != nil {
			return err
		}
		defer live.Close()
	}
	cfg := app.RecordingConfig{
		Device: *device,
		Input:  *input,
		Paced:  !*fast,
		// Counted in samples, so --duration 14s is 14 s of audio whatever the clock and
		// however fast a --fast input goes.
		MaxSamples: pcm.Samples(*duration),
		Folder:     folder,
		Out:        *out,
		Bitrate:    *bitrate,
		Tags:       id3.Tags{Title: app.CleanTitle(*title), Presenter: *presenter},
		Voice:      vo,
		// The window processes only the live stream unless asked; here the MP3 is the one
		// thing made without --server, so what is asked applies to both.
		VoiceOnRecording: !vo.Off(),
	}
	if live != nil {
		cfg.Live = live
	}
	rec, err := app.StartRecording(cfg)
	if err != nil {
		return err
	}
	*out = rec.Path()
	fmt.Fprintf(os.Stderr, "recording to %s (Ctrl-C to stop)\n", *out)
	// The studio copy: this MP3 goes up to the server as it grows. Copies an earlier run left
	// unfinished in the same folder (repaired above, so complete) go up beside it if they are
	// for the same server (the token is for that one alone); they do not hold record up
	// (finishUploads), and copies for another server are left to podium upload.
	var own *studio.Uploader
	var others []*studio.Uploader
	if *server != "" {
		base, stream := proto.SplitWHIP(*server)
		own = studio.NewUploader(studio.Config{Server: base, Token: *token, Stream: stream, Path: *out, Started: time.Now()})
		own.Start()
		defer own.Close()
		for _, p := range studio.Pending(dir) {
			if p == *out {
				continue
			}
			u, err := pendingUploader(p, base, *token)
			if err != nil {
				fmt.Fprintf(os.Stderr, "studio copy: left for podium upload: %v\n", err)
				continue
			}
			go u.Finish(context.Background())
			defer u.Close()
			others = append(others, u)
		}
	}
	lines := chapterLines(os.Stdin)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var why error
	warned := ""
	checkDisk := func() {
		if w := app.LowDiskWarning(filepath.Dir(*out), *bitrate); w != "" && w != warned && warned == "" {
			fmt.Fprintf(os.Stderr, "\nwarning: %s\n", w)
			warned = w
		}
	}
	checkDisk()
	lastDiskCheck := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-rec.Ended():
			if *input == "" {
				why = errors.New("the microphone was disconnected: the recording so far is saved; plug it back in and run podium record again to go on")
			}
			break loop
		case <-rec.Broken():
			break loop
		case <-rec.Full():
			break loop
		case name, ok := <-lines:
			if !ok {
				lines = nil // standard input ended: no more chapters, the recording goes on
				continue
			}
			markChapter(rec, live, name)
		case <-tick.C:
			if time.Since(lastDiskCheck) > 2*time.Second {
				checkDisk()
				lastDiskCheck = time.Now()
			}
			m := rec.Meter()
			fmt.Fprintf(os.Stderr, "\r%s  level %6.1f dBFS  peak %6.1f  dropped %d   ",
				clock(rec.Elapsed()), m.RMS(), m.Peak(), rec.DroppedSamples())
		}
	}
	fmt.Fprintln(os.Stderr)
	sum, err := rec.Stop()
	fmt.Fprintf(os.Stderr, "recorded %s, %d frames, %d dropped samples, %d bytes: %s\n",
		clock(sum.Duration), sum.Frames, sum.DroppedSamples, sum.Bytes, sum.Path)
	if p := rec.VoiceProblem(); p != "" {
		fmt.Fprintln(os.Stderr, p)
	}
	if live != nil {
		closeErr := live.Close()
		st := live.Stats()
		fmt.Fprintf(os.Stderr, "live: %d packets sent, %d dropped, %d reconnects, live for %s\n",
			st.PacketsSent, st.PacketsDropped, st.Reconnects, clock(st.TimeLive))
		if closeErr != nil {
			fmt.Fprintln(os.Stderr, "live:", closeErr)
		}
	}
	signal.Stop(sigs)
	stopEndSession()
	close(sigs)
	switch {
	case own == nil || err != nil:
	case terminated.Load():
		fmt.Fprintln(os.Stderr, "studio copy: left for later (terminated); run podium upload to finish it")
	default:
		err = finishUploads([]*studio.Uploader{own}, others)
	}
	return app.Explain(errors.Join(err, why))
}

// chapterLines delivers the lines typed or piped on in (a terminal or a pipe; anything else,
// such as a file, is not read), each without its line ending, and closes at its end. A
// terminal user presses Enter to mark a chapter, or types its name first.
func chapterLines(in *os.File) chan string {
	st, err := in.Stat()
	if err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeCharDevice) == 0 {
		return nil
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 4096), 64<<10) // a longer line ends the chapters, not the recording
		for sc.Scan() {
			lines <- strings.TrimSuffix(sc.Text(), "\r")
		}
	}()
	return lines
}

// markChapter marks a chapter named name now, in the recording and on the server.
func markChapter(rec *app.Recording, live *whip.Client, name string) {
	c, err := rec.MarkChapter(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nchapter: %v\n", err)
		return
	}
	if live != nil {
		live.MarkChapter(c.Name)
	}
	n := len(rec.Chapters())
	if c.Name == "" {
		fmt.Fprintf(os.Stderr, "\rchapter %d at %s\n", n, clock(c.Start))
	} else {
		fmt.Fprintf(os.Stderr, "\rchapter %d at %s: %s\n", n, clock(c.Start), c.Name)
	}
}

func describe(st whip.Status) string {
	switch {
	case st.State == whip.Reconnecting && st.Attempt == 0:
		return fmt.Sprintf("reconnecting: %v", st.Err)
	case st.State == whip.Reconnecting:
		return fmt.Sprintf("reconnecting (attempt %d, next try in %s): %v", st.Attempt, st.NextTry.Round(100*time.Millisecond), st.Err)
	case st.Err != nil:
		return fmt.Sprintf("%s: %v", st.State, st.Err)
	}
	return st.State.String()
}

func clock(d time.Duration) string {
	d = d.Round(time.Millisecond)
	return fmt.Sprintf("%02d:%02d:%02d.%03d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60, d.Milliseconds()%1000)
}
