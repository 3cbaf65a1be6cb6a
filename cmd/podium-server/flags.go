package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"podium/app/server"
	"podium/audio/filename"
	"podium/audio/mp3"
	"podium/rtc/objstore"
	"podium/rtc/proto"
)

// options are podium-server's flags: most go straight into the server's Config, the rest
// are read (tokens from files and the environment) or attached by main (the bucket).
type options struct {
	cfg           server.Config
	listen        string
	tokenFile     string
	streamTokens  tokenList
	public        bool
	publicIP      string
	s3            objstore.Config
	s3RemoveLocal bool
	hlsBucket     bool
	logFormat     string
}

type tokenList []string

func (t *tokenList) String() string     { return fmt.Sprint(len(*t), " tokens") }
func (t *tokenList) Set(v string) error { *t = append(*t, v); return nil }

// parseFlags reads the command line; nil options, and no error, after -help.
func parseFlags(args []string) (*options, error) {
	o := &options{cfg: server.Config{HLS: true}}
	c := &o.cfg
	fs := flag.NewFlagSet("podium-server", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve WHIP and the recordings on")
	fs.StringVar(&c.Dir, "dir", "recordings", "folder for the recordings")
	fs.Var((*tokenList)(&c.Tokens), "token", "operator Bearer token: publishes on every stream, reads recordings and metrics (repeatable; also $PODIUM_TOKENS, comma-separated)")
	fs.StringVar(&o.tokenFile, "token-file", "", "file with one operator token per line")
	fs.Var(&o.streamTokens, "stream-token", "STREAM:TOKEN, a publisher token for that stream only (repeatable; also $PODIUM_STREAM_TOKENS, comma-separated)")
	fs.BoolVar(&o.public, "public", false, "accept publishers without a token (only on a trusted network)")
	fs.Var((*tokenList)(&c.ViewerTokens), "viewer-token", "Bearer token that may read the recordings, as listener tokens may (repeatable)")
	fs.BoolVar(&c.PublicRecordings, "public-recordings", false, "anyone may list and download the recordings, without a token")
	fs.Var((*tokenList)(&c.MetricsTokens), "metrics-token", "Bearer token that may read /metrics, as operator tokens may (repeatable)")
	fs.BoolVar(&c.PublicMetrics, "public-metrics", false, "anyone may read /metrics, without a token")
	fs.Var((*tokenList)(&c.ListenerTokens), "listener-token", "listener Bearer token for WHEP and the listener page (repeatable; also $PODIUM_LISTENER_TOKENS, comma-separated)")
	fs.BoolVar(&c.PublicListen, "public-listen", false, "anyone may listen, without a listener token")
	fs.BoolVar(&c.PreferHLS, "prefer-hls", false, "send listener pages to HLS rather than WHEP (a server behind a CDN, or whose UDP port listeners cannot reach); they go there anyway once WHEP listeners reach --max-listeners")
	fs.StringVar(&o.s3.Endpoint, "s3-endpoint", firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), "S3-compatible storage that finished recordings are uploaded to (default $AWS_ENDPOINT_URL_S3 or $AWS_ENDPOINT_URL); credentials from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials")
	fs.StringVar(&o.s3.Bucket, "s3-bucket", os.Getenv("PODIUM_S3_BUCKET"), "the bucket (default $PODIUM_S3_BUCKET)")
	fs.StringVar(&o.s3.Prefix, "s3-prefix", os.Getenv("PODIUM_S3_PREFIX"), "put before each recording's name in the bucket, such as talks/ (default $PODIUM_S3_PREFIX)")
	fs.StringVar(&o.s3.Region, "s3-region", firstEnv("AWS_REGION", "AWS_DEFAULT_REGION"), "the bucket's region (default $AWS_REGION or $AWS_DEFAULT_REGION; empty: ask the bucket)")
	fs.BoolVar(&o.s3RemoveLocal, "s3-remove-local", false, "remove each recording from --dir once the bucket holds it, checked (default: keep both)")
	fs.BoolVar(&o.hlsBucket, "hls-bucket", false, "also copy each live stream's HLS to the S3 bucket, under PREFIX/hls/{stream}/, for a CDN to pull from there (needs --s3-endpoint and --s3-bucket)")
	fs.DurationVar(&c.HLSKeep, "hls-keep", time.Minute, "with --hls-bucket, how long a stream's HLS stays in the bucket after it ends (listeners behind live)")
	fs.StringVar(&c.HLSBase, "hls-base", "", "URL listener pages fetch HLS from instead of this server: a CDN in front of the origins or of the bucket, mapping /hls/ onto it (it must send CORS headers)")
	fs.StringVar(&c.HLSSecret, "hls-secret", os.Getenv("PODIUM_HLS_SECRET"), "signs HLS links as nginx's secure_link checks them; the same on every origin behind one proxy or CDN (default $PODIUM_HLS_SECRET, or random at each start)")
	fs.DurationVar(&c.ListenerTimeout, "listener-timeout", 10*time.Second, "remove a listener whose connection has been down this long")
	fs.IntVar(&c.MaxListeners, "max-listeners", 1000, "most listeners at once")
	fs.DurationVar(&c.Grace, "grace", 5*time.Minute, "how long a vanished publisher may come back to the same recording")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 10*time.Second, "end a publisher session that has sent no packet for this long (it may come back within --grace)")
	fs.IntVar(&c.MaxSessions, "max-sessions", 200, "most publishers at once")
	fs.IntVar(&c.MaxConns, "max-conns", 1000, "most HTTP connections at once (idle and silent ones make room for new ones)")
	fs.IntVar(&c.Bitrate, "bitrate", mp3.DefaultBitrate, "MP3 bitrate in kbps")
	fs.IntVar(&c.UDPPort, "udp-port", 0, "the one UDP port for all media, publishers' and listeners' (open it in the firewall; 0: a free one, logged at start)")
	fs.Func("udp-ports", "replaced by --udp-port: all sessions share one UDP port", func(string) error {
		return errors.New("replaced by --udp-port PORT: all sessions now share one UDP port")
	})
	fs.StringVar(&o.publicIP, "public-ip", "", "address to announce in ICE candidates (server behind 1:1 NAT)")
	fs.StringVar(&o.logFormat, "log-format", "text", "text: lines as people read them (time, level, message, key=value attributes); json: one JSON object a line, for Loki, CloudWatch and the like")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	return o, nil
}

// config is the server's Config the flags give, with the tokens from files and the
// environment, checked.
func (o *options) config(logger *slog.Logger) (server.Config, error) {
	cfg := o.cfg
	cfg.Logger = logger
	cfg.Tokens = append(cfg.Tokens, splitTokens(os.Getenv("PODIUM_TOKENS"))...)
	cfg.ListenerTokens = append(cfg.ListenerTokens, splitTokens(os.Getenv("PODIUM_LISTENER_TOKENS"))...)
	if o.tokenFile != "" {
		more, err := readTokens(o.tokenFile)
		if err != nil {
			return cfg, err
		}
		cfg.Tokens = append(cfg.Tokens, more...)
	}
	byStream, err := parseStreamTokens(append(o.streamTokens, splitTokens(os.Getenv("PODIUM_STREAM_TOKENS"))...))
	if err != nil {
		return cfg, err
	}
	cfg.StreamTokens = byStream
	if len(cfg.Tokens) == 0 && len(byStream) == 0 && !o.public {
		return cfg, errors.New("no token: give --token, --token-file, --stream-token or $PODIUM_TOKENS, or --public to accept anyone")
	}
	if cfg.UDPPort < 0 || cfg.UDPPort > 65535 {
		return cfg, fmt.Errorf("--udp-port %d: want 1-65535, or 0 for a free one", cfg.UDPPort)
	}
	if cfg.Dir == "" {
		// An empty Dir would make a server that records nothing: the built-in one.
		return cfg, errors.New("recordings folder: --dir is empty")
	}
	if o.publicIP != "" {
		cfg.PublicIPs = []string{o.publicIP}
	}
	if host, _, err := net.SplitHostPort(o.listen); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback() {
		cfg.IPFilter = proto.LoopbackOnly
	}
	return cfg, nil
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
