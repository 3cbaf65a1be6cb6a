// Command podium-server receives presenters over WHIP and records each session to MP3.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"podium/app/recorder"
	"podium/app/studio/studioproto"
	"podium/app/studio/studioserver"
	"podium/audio/filename"
	"podium/audio/mp3"
	"podium/audio/mp3/repair"
	"podium/rtc"
	"podium/rtc/hls"
	"podium/rtc/objstore"
	"podium/rtc/proto"
)

// diskEvery is how often the free space of --dir is measured: statfs is cheap.
const diskEvery = 2 * time.Second

type tokenList []string

func (t *tokenList) String() string     { return fmt.Sprint(len(*t), " tokens") }
func (t *tokenList) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "podium-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("podium-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve WHIP and the recordings on")
	dir := fs.String("dir", "recordings", "folder for the recordings")
	var tokens tokenList
	fs.Var(&tokens, "token", "operator Bearer token: publishes on every stream, reads recordings and metrics (repeatable; also $PODIUM_TOKENS, comma-separated)")
	tokenFile := fs.String("token-file", "", "file with one operator token per line")
	var streamTokens tokenList
	fs.Var(&streamTokens, "stream-token", "STREAM:TOKEN, a publisher token for that stream only (repeatable; also $PODIUM_STREAM_TOKENS, comma-separated)")
	public := fs.Bool("public", false, "accept publishers without a token (only on a trusted network)")
	var viewerTokens tokenList
	fs.Var(&viewerTokens, "viewer-token", "Bearer token that may read the recordings, as listener tokens may (repeatable)")
	publicRecordings := fs.Bool("public-recordings", false, "anyone may list and download the recordings, without a token")
	var metricsTokens tokenList
	fs.Var(&metricsTokens, "metrics-token", "Bearer token that may read /metrics, as operator tokens may (repeatable)")
	publicMetrics := fs.Bool("public-metrics", false, "anyone may read /metrics, without a token")
	var listenerTokens tokenList
	fs.Var(&listenerTokens, "listener-token", "listener Bearer token for WHEP and the listener page (repeatable; also $PODIUM_LISTENER_TOKENS, comma-separated)")
	publicListen := fs.Bool("public-listen", false, "anyone may listen, without a listener token")
	preferHLS := fs.Bool("prefer-hls", false, "send listener pages to HLS rather than WHEP (a server behind a CDN, or whose UDP port listeners cannot reach); they go there anyway once WHEP listeners reach --max-listeners")
	s3 := objstore.Config{}
	fs.StringVar(&s3.Endpoint, "s3-endpoint", firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), "S3-compatible storage that finished recordings are uploaded to (default $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL); credentials from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials")
	fs.StringVar(&s3.Bucket, "s3-bucket", os.Getenv("PODIUM_S3_BUCKET"), "the bucket (default $PODIUM_S3_BUCKET)")
	fs.StringVar(&s3.Prefix, "s3-prefix", os.Getenv("PODIUM_S3_PREFIX"), "put before each recording's name in the bucket, such as talks/ (default $PODIUM_S3_PREFIX)")
	fs.StringVar(&s3.Region, "s3-region", firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), "the bucket's region (default $AWS_REGION or $AWS_DEFAULT_REGION; empty: ask the bucket)")
	s3RemoveLocal := fs.Bool("s3-remove-local", false, "remove each recording from --dir once the bucket holds it, checked (default: keep both)")
	hlsBucket := fs.Bool("hls-bucket", false, "also copy each live stream's HLS to the S3 bucket, under PREFIX/hls/{stream}/, for a CDN to pull from there (needs --s3-endpoint and --s3-bucket)")
	hlsKeep := fs.Duration("hls-keep", time.Minute, "with --hls-bucket, how long a stream's HLS stays in the bucket after it ends (listeners behind live)")
	hlsBase := fs.String("hls-base", "", "URL listener pages fetch HLS from instead of this server: a CDN in front of the origins or of the bucket, mapping /hls/ onto it (it must send CORS headers)")
	hlsSecret := fs.String("hls-secret", os.Getenv("PODIUM_HLS_SECRET"), "signs HLS links as nginx's secure_link checks them; the same on every origin behind one proxy or CDN (default $PODIUM_HLS_SECRET, or random at each start)")
	listenerTimeout := fs.Duration("listener-timeout", 10*time.Second, "remove a listener whose connection has been down this long")
	maxListeners := fs.Int("max-listeners", 1000, "most listeners at once")
	grace := fs.Duration("grace", 5*time.Minute, "how long a vanished publisher may come back to the same recording")
	idle := fs.Duration("idle-timeout", 10*time.Second, "end a publisher session that has sent no packet for this long (it may come back within --grace)")
	maxSessions := fs.Int("max-sessions", 200, "most publishers at once")
	maxConns := fs.Int("max-conns", 1000, "most HTTP connections at once (idle and silent ones make room for new ones)")
	bitrate := fs.Int("bitrate", mp3.DefaultBitrate, "MP3 bitrate in kbps")
	udpPort := fs.Int("udp-port", 0, "the one UDP port for all media, publishers' and listeners' (open it in the firewall; 0: a free one, logged at start)")
	fs.Func("udp-ports", "replaced by --udp-port: all sessions share one UDP port", func(string) error {
		return errors.New("replaced by --udp-port PORT: all sessions now share one UDP port")
	})
	publicIP := fs.String("public-ip", "", "address to announce in ICE candidates (server behind 1:1 NAT)")
	logFormat := fs.String("log-format", "text", "text: lines as people read them (time, level, message, key=value attributes); json: one JSON object a line, for Loki, CloudWatch and the like")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	logger, err := newLogger(*logFormat, os.Stderr)
	if err != nil {
		return err
	}
	tokens = append(tokens, splitTokens(os.Getenv("PODIUM_TOKENS"))...)
	listenerTokens = append(listenerTokens, splitTokens(os.Getenv("PODIUM_LISTENER_TOKENS"))...)
	if *tokenFile != "" {
		more, err := readTokens(*tokenFile)
		if err != nil {
			return err
		}
		tokens = append(tokens, more...)
	}
	byStream, err := parseStreamTokens(append(streamTokens, splitTokens(os.Getenv("PODIUM_STREAM_TOKENS"))...))
	if err != nil {
		return err
	}
	if len(tokens) == 0 && len(byStream) == 0 && !*public {
		return errors.New("no token: give --token, --token-file, --stream-token or $PODIUM_TOKENS, or --public to accept anyone")
	}
	cfg := rtc.ServerConfig{
		Tokens:           tokens,
		StreamTokens:     byStream,
		ViewerTokens:     viewerTokens,
		PublicRecordings: *publicRecordings,
		MetricsTokens:    metricsTokens,
		PublicMetrics:    *publicMetrics,
		Grace:            *grace,
		IdleTimeout:      *idle,
		MaxSessions:      *maxSessions,
		RecordingsDir:    *dir,

		ListenerTokens:  listenerTokens,
		PublicListen:    *publicListen,
		HLSSecret:       *hlsSecret,
		HLSBase:         *hlsBase,
		PreferHLS:       *preferHLS,
		ListenerTimeout: *listenerTimeout,
		MaxListeners:    *maxListeners,
		UDPPort:         *udpPort,
	}
	if *udpPort < 0 || *udpPort > 65535 {
		return fmt.Errorf("--udp-port %d: want 1-65535, or 0 for a free one", *udpPort)
	}
	if *publicIP != "" {
		cfg.PublicIPs = []string{*publicIP}
	}
	if host, _, err := net.SplitHostPort(*listen); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback() {
		cfg.IPFilter = proto.LoopbackOnly
	}
	stats := &recorder.Stats{}
	// Each stream is recorded to MP3 and, beside it, packaged as HLS for listeners behind a
	// CDN or caching proxy (GET /hls/{stream}/index.m3u8, with a listener token).
	live := &hls.Renditions{MirrorKeep: *hlsKeep, Failed: func(stream string, err error) {
		logger.Warn("podium-server: HLS failed; the recording goes on", "stream", stream, "err", err)
	}}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("recordings folder: %w", err)
	}
	var bucket *objstore.Uploader
	if s3.Endpoint != "" || s3.Bucket != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		b, err := objstore.Open(ctx, s3)
		cancel()
		if errors.Is(err, objstore.ErrUnreachable) {
			logger.Warn("podium-server: bucket unreachable; recordings wait for it", "err", err)
		} else if err != nil {
			return err
		}
		if bucket, err = objstore.NewUploader(b, *dir, *s3RemoveLocal, logger); err != nil {
			return err
		}
		cfg.Archive = b
		if *hlsBucket {
			live.Mirror = b.HLS()
		}
		logger.Info("podium-server: recordings go to a bucket", "bucket", s3.Bucket, "endpoint", s3.Endpoint, "prefix", s3.Prefix, "waiting", bucket.Pending())
	}
	if *hlsBucket && live.Mirror == nil {
		return errors.New("--hls-bucket needs a bucket: --s3-endpoint and --s3-bucket")
	}
	toMP3 := recorder.New(*dir, *bitrate, stats)
	cfg.Record = func(stream string, start time.Time) (rtc.Recorder, error) {
		rec, err := toMP3(stream, start)
		if err != nil {
			return nil, err
		}
		if bucket != nil {
			rec = toBucket(rec.(rtc.NamedRecorder), bucket, logger)
		}
		r, err := live.Open(stream, start)
		if err != nil {
			logger.Warn("podium-server: no HLS", "stream", stream, "err", err)
			return rec, nil
		}
		return live.Tee(stream, rec, r), nil
	}
	var up *studioserver.Server
	// Recordings a crash left unfinished get their headers back before anyone lists them.
	fixed, err := repair.Dir(*dir, "")
	for _, f := range fixed {
		logger.Info("podium-server: recovered", "file", f)
	}
	if err != nil {
		logger.Error("podium-server: repair", "err", err)
	}
	// Who began each recording, so that only that token's studio copy joins it (up is made
	// below, before anything is served).
	cfg.Began = func(name, who string) { up.Began(name, who) }
	cfg.Logger = logger
	srv, err := rtc.NewServer(cfg)
	if err != nil {
		return err
	}
	// Presenters' own MP3s, uploaded while they record (tus): their studio copies.
	studioCfg := studioserver.Config{Dir: *dir, Publisher: srv.Publisher,
		Logger: logger}
	if d, err := time.ParseDuration(os.Getenv("PODIUM_STUDIO_EXPIRE")); err == nil && d > 0 {
		studioCfg.Expire = d // for tests: how long an upload not written is kept (24 h)
	}
	if bucket != nil {
		studioCfg.Placed = func(name string) {
			if err := bucket.Add(name); err != nil {
				logger.Error("podium-server: bucket", "err", err)
			}
		}
		studioCfg.Elsewhere = func() []string {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return bucket.Names(ctx)
		}
	}
	if up, err = studioserver.New(studioCfg); err != nil {
		return err
	}
	srv.Handle(studioproto.BasePath, up.Handler())
	srv.HandleHLS(live.Handler())
	// Tests and operators read the port from the message as well.
	logger.Info(fmt.Sprintf("podium-server: media on UDP port %d (every session)", srv.UDPPort()), "udp_port", srv.UDPPort())
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	// Every read and write has a deadline, and connections are capped: a client that stops
	// reading a download, or floods the server with connections, holds nothing for long.
	hs := rtc.NewHTTPServer(srv, rtc.HTTPLimits{MaxConns: *maxConns})
	srv.RegisterMetrics(stats.Collectors()...)
	srv.RegisterMetrics(live.Collectors()...)
	srv.RegisterMetrics(bucket.Collectors()...)
	srv.RegisterMetrics(hs.Collectors()...)
	srv.RegisterMetrics(up.Collectors()...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The room left, for /metrics and a warning in the log while there is time to act.
	stats.WatchSpace(ctx, *dir, *bitrate, diskEvery, logf(logger, slog.LevelWarn))
	if bucket != nil {
		go bucket.Run(ctx)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	// Tests (testkit.ServerBase) read the address from the message.
	logger.Info(fmt.Sprintf("podium-server: WHIP on http://%s/whip/{stream}, recordings in %s", ln.Addr(), *dir), "addr", ln.Addr().String(), "dir", *dir)
	switch {
	case *publicListen:
		logger.Info(fmt.Sprintf("podium-server: listeners: http://%s/listen/{stream} (public)", ln.Addr()))
	case len(listenerTokens) > 0:
		logger.Info(fmt.Sprintf("podium-server: listeners: http://%s/listen/{stream}#token=LISTENER-TOKEN", ln.Addr()))
	default:
		logger.Warn("podium-server: no listener token and no --public-listen: nobody can listen")
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	logger.Info("podium-server: shutting down, finalising recordings")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Sessions first: every open MP3 is finalised before the listener goes.
	err = srv.Shutdown(sctx)
	return errors.Join(err, hs.Shutdown(sctx))
}

// toBucket claims rec's file for the bucket, and hands it to the uploader once closed.
func toBucket(rec rtc.NamedRecorder, u *objstore.Uploader, logger *slog.Logger) rtc.Recorder {
	name := filepath.Base(rec.Name())
	if err := u.Claim(name); err != nil {
		logger.Warn("podium-server: the recording stays in --dir only", "file", name, "err", err)
		return rec
	}
	return bucketRecorder{rec, u, name}
}

type bucketRecorder struct {
	rtc.NamedRecorder
	u    *objstore.Uploader
	name string
}

func (r bucketRecorder) Close() error {
	err := r.NamedRecorder.Close()
	r.u.Finished(r.name) // what it holds goes up, even after a failure
	return err
}

// firstEnv is the first of the environment variables that is set.
func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// parseStreamTokens reads STREAM:TOKEN pairs. A stream name holds no colon, so the first
// one ends it and the token may hold any.
func parseStreamTokens(pairs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, p := range pairs {
		stream, tok, ok := strings.Cut(p, ":")
		if !ok || tok == "" {
			return nil, fmt.Errorf("--stream-token %q: want STREAM:TOKEN", p)
		}
		if err := filename.CheckStream(stream); err != nil {
			return nil, fmt.Errorf("--stream-token: %w", err)
		}
		out[stream] = append(out[stream], tok)
	}
	return out, nil
}

// splitTokens reads a comma-separated token list, as $PODIUM_TOKENS and
// $PODIUM_LISTENER_TOKENS hold them; blanks around and between commas are ignored.
func splitTokens(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %q: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("token file %q has no tokens", path)
	}
	return out, nil
}
