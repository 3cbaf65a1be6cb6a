package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"podium/app"
	"podium/rtc/proto"
)

// TestListenersTokenStaysOnItsOrigin: the window's listener count asks the server with the
// presenter's token; a redirect to another port of the same host (which Go's client would
// follow with Authorization) is refused, and the token never arrives there.
func TestListenersTokenStaysOnItsOrigin(t *testing.T) {
	var tokens atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "secret") {
			tokens.Add(1)
		}
		w.Write([]byte(`{"listeners": 7}`))
	}))
	defer other.Close()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer hostile.Close()
	n, err := app.FetchListeners(hostile.URL+"/streams/talk", "secret")
	if tokens.Load() != 0 {
		t.Errorf("the token reached the other origin %d times (answer %d, %v)", tokens.Load(), n, err)
	}
	if err == nil || !strings.Contains(err.Error(), proto.ErrOtherOrigin.Error()) {
		t.Errorf("FetchListeners through a redirect to another origin: %d, %v; want refused", n, err)
	}
}
