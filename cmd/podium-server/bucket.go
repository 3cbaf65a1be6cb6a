package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"podium/rtc"
	"podium/rtc/objstore"
)

// archive is the S3 bucket finished recordings go to, and the uploader that takes them there.
type archive struct {
	*objstore.Uploader
	b   *objstore.Bucket
	log *slog.Logger
}

// openBucket opens the bucket s3 names, if any (nil without --s3-endpoint or --s3-bucket);
// one unreachable now is waited for.
func openBucket(s3 objstore.Config, dir string, removeLocal bool, logger *slog.Logger) (*archive, error) {
	if s3.Endpoint == "" && s3.Bucket == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	b, err := objstore.Open(ctx, s3)
	cancel()
	if errors.Is(err, objstore.ErrUnreachable) {
		logger.Warn("podium-server: bucket unreachable; recordings wait for it", "err", err)
	} else if err != nil {
		return nil, err
	}
	u, err := objstore.NewUploader(b, dir, removeLocal, logger)
	if err != nil {
		return nil, err
	}
	logger.Info("podium-server: recordings go to a bucket", "bucket", s3.Bucket, "endpoint", s3.Endpoint, "prefix", s3.Prefix, "waiting", u.Pending())
	return &archive{Uploader: u, b: b, log: logger}, nil
}

// keep claims rec's file for the bucket, and hands it to the uploader once closed.
func (u *archive) keep(rec rtc.NamedSink) rtc.Sink {
	name := filepath.Base(rec.Name())
	if err := u.Claim(name); err != nil {
		u.log.Warn("podium-server: the recording stays in --dir only", "file", name, "err", err)
		return rec
	}
	return bucketSink{rec, u.Uploader, name}
}

type bucketSink struct {
	rtc.NamedSink
	u    *objstore.Uploader
	name string
}

// SetTalk passes the talk on to the recording (rtc.TalkSink), when it keeps one.
func (r bucketSink) SetTalk(talk rtc.Talk) {
	if ts, ok := r.NamedSink.(rtc.TalkSink); ok {
		ts.SetTalk(talk)
	}
}

func (r bucketSink) Close() error {
	err := r.NamedSink.Close()
	r.u.Finished(r.name) // what it holds goes up, even after a failure
	return err
}
