// Command podium-server receives presenters over WHIP and records each session to MP3.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"podium/app/server"
	"podium/app/studio/studioproto"
	"podium/app/studio/studioserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "podium-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o, err := parseFlags(args)
	if o == nil || err != nil {
		return err // nil after -help
	}
	logger, err := newLogger(o.logFormat, os.Stderr)
	if err != nil {
		return err
	}
	cfg, err := o.config(logger)
	if err != nil {
		return err
	}
	bucket, err := openBucket(o.s3, cfg.Dir, o.s3RemoveLocal, logger)
	if err != nil {
		return err
	}
	if bucket != nil {
		cfg.Archive = bucket.b
		cfg.Keep = bucket.keep
		if o.hlsBucket {
			cfg.HLSMirror = bucket.b.HLS()
		}
	}
	if o.hlsBucket && cfg.HLSMirror == nil {
		return errors.New("--hls-bucket needs a bucket: --s3-endpoint and --s3-bucket")
	}
	var up *studioserver.Server
	// Who began each recording, so that only that token's studio copy joins it (up is made
	// below, before anything is served).
	cfg.Began = func(name, who string) { up.Began(name, who) }
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if up, err = newStudio(cfg.Dir, srv, bucket, logger); err != nil {
		return err
	}
	// Presenters' own MP3s, uploaded while they record (tus): their studio copies.
	srv.Handle(studioproto.BasePath, up.Handler())
	srv.RegisterMetrics(up.Collectors()...)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if bucket != nil {
		srv.RegisterMetrics(bucket.Collectors()...)
		go bucket.Run(ctx)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// newStudio serves presenters' studio copies (tus uploads) into dir, and on to the bucket
// where there is one.
func newStudio(dir string, srv *server.Server, bucket *archive, logger *slog.Logger) (*studioserver.Server, error) {
	cfg := studioserver.Config{Dir: dir, Publisher: srv.Publisher, Logger: logger}
	if d, err := time.ParseDuration(os.Getenv("PODIUM_STUDIO_EXPIRE")); err == nil && d > 0 {
		cfg.Expire = d // for tests: how long an upload not written is kept (24 h)
	}
	if bucket != nil {
		cfg.Placed = func(name string) {
			if err := bucket.Add(name); err != nil {
				logger.Error("podium-server: bucket", "err", err)
			}
		}
		cfg.Elsewhere = func() []string {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return bucket.Names(ctx)
		}
	}
	return studioserver.New(cfg)
}
