package studio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"podium/app/studio/studioproto"
	"podium/rtc/proto"
)

// The tus 1.0 requests the uploader makes (creation, defer-length, concatenation): written
// against the spec at tus.io, no Go tus client being packaged here.

// permanent marks an error no retry will cure.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

var errMismatch = errors.New("the server's copy does not match the file")

// request makes a request to loc on the server's origin, with the token; loc on any other
// origin (a Location the server answered, a sidecar's body URL) is refused for good.
func (u *Uploader) request(method, loc string, body io.Reader, n int64) (*http.Request, error) {
	if err := proto.CheckOrigin(u.cfg.Server, loc); err != nil {
		return nil, permanent{fmt.Errorf("studio upload: %w", err)}
	}
	if n == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequest(method, loc, body)
	if err != nil {
		return nil, permanent{err}
	}
	req.ContentLength = n
	req.Header.Set("Tus-Resumable", studioproto.TusVersion)
	if u.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.cfg.Token)
	}
	return req, nil
}

// do sends req; a redirect to another origin is refused for good (proto.SameOriginClient).
func (u *Uploader) do(req *http.Request) (*http.Response, error) {
	resp, err := u.cfg.Client.Do(req)
	switch {
	case errors.Is(err, proto.ErrOtherOrigin):
		return nil, permanent{fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)}
	case err != nil:
		return nil, fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)
	}
	return resp, nil
}

func (u *Uploader) metadata(kind, sum string) string {
	kv := map[string]string{studioproto.MetaStream: u.cfg.Stream, studioproto.MetaName: filepath.Base(u.cfg.Path),
		studioproto.MetaKind: kind, studioproto.MetaStarted: u.side.Started.UTC().Format(time.RFC3339)}
	if sum != "" {
		kv[studioproto.MetaSHA] = sum
	}
	var parts []string
	for k, v := range kv {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// create makes a partial upload: of deferred length (the body), or of size with data sent
// in the same request (the head).
func (u *Uploader) create(size int64, kind, sum string, data ...byte) (string, error) {
	endpoint := strings.TrimSuffix(u.cfg.Server, "/") + studioproto.BasePath
	req, err := u.request(http.MethodPost, endpoint, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Concat", "partial")
	req.Header.Set("Upload-Metadata", u.metadata(kind, sum))
	if kind == studioproto.KindBody {
		req.Header.Set("Upload-Defer-Length", "1")
	} else {
		req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	resp, err := u.do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if err := statusErr(resp, http.StatusCreated); err != nil {
		return "", err
	}
	return u.resolve(endpoint, resp.Header.Get("Location"))
}

func (u *Uploader) resolve(base, loc string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", permanent{err}
	}
	l, err := b.Parse(loc)
	if err != nil || loc == "" {
		return "", fmt.Errorf("studio upload: bad Location %q", loc)
	}
	if err := proto.CheckOrigin(base, l.String()); err != nil {
		return "", permanent{fmt.Errorf("studio upload: Location: %w", err)}
	}
	return l.String(), nil
}

// offset asks the server how much of an upload it has (tus HEAD), and whether its length is
// declared (the body is complete).
func (u *Uploader) offset(loc string) (int64, bool, error) {
	req, err := u.request(http.MethodHead, loc, nil, 0)
	if err != nil {
		return 0, false, err
	}
	resp, err := u.do(req)
	if err != nil {
		return 0, false, err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		u.side.Body = "" // the server lost it: start again
		_ = u.saveSidecar()
		return 0, false, errors.New("studio upload: the server lost the upload; starting again")
	}
	if err := statusErr(resp, http.StatusOK); err != nil {
		return 0, false, err
	}
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return off, resp.Header.Get("Upload-Length") != "", err
}

// maxChunk bounds one PATCH, so that it ends well within the server's 20 s for a request
// on a slow uplink (1 MiB: 8 s at 1 Mb/s); a cut one resumes where the server got to.
const maxChunk = 1 << 20

// patch sends the body from off to n (file offsets head+off .. head+n), declaring the body's
// length when final.
func (u *Uploader) patch(loc string, head, off, n int64, final bool, length int64) error {
	if off > n {
		return permanent{fmt.Errorf("studio upload: the server has %d bytes of a body of %d: the file shrank", off, n)}
	}
	if off == n && !final {
		return nil
	}
	f, err := os.Open(u.cfg.Path)
	if err != nil {
		return permanent{err}
	}
	defer f.Close()
	var body io.Reader = io.NewSectionReader(f, head+off, n-off)
	if n == off {
		body = http.NoBody // a length of 0, not an unknown one
	}
	req, err := u.request(http.MethodPatch, loc, body, n-off)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	if final {
		req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	}
	resp, err := u.do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	return statusErr(resp, http.StatusNoContent)
}

// join makes the final upload of head and body; the server checks sum and names the copy.
func (u *Uploader) join(head, body, sum string) (string, error) {
	endpoint := strings.TrimSuffix(u.cfg.Server, "/") + studioproto.BasePath
	req, err := u.request(http.MethodPost, endpoint, nil, 0)
	if err != nil {
		return "", err
	}
	hp, _ := url.Parse(head)
	bp, _ := url.Parse(body)
	req.Header.Set("Upload-Concat", "final;"+hp.Path+" "+bp.Path)
	req.Header.Set("Upload-Metadata", u.metadata(studioproto.KindFile, sum))
	resp, err := u.do(req)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusConflict {
		return "", errMismatch
	}
	if err := statusErr(resp, http.StatusCreated); err != nil {
		return "", err
	}
	return resp.Header.Get(studioproto.HeaderCopy), nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// statusErr turns an unexpected status into an error: a server with no tus endpoint means
// live only; a refused token or size is for good; the rest is worth another try.
func statusErr(resp *http.Response, want int) error {
	if resp.StatusCode == want {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("studio upload: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	switch {
	case resp.StatusCode == http.StatusInsufficientStorage:
		return permanent{ErrNoRoom}
	case resp.StatusCode == http.StatusNotFound && resp.Request.Method == http.MethodPost,
		resp.StatusCode == http.StatusMethodNotAllowed:
		return ErrLiveOnly
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusRequestEntityTooLarge, resp.StatusCode == http.StatusBadRequest:
		return permanent{err}
	}
	return err
}
