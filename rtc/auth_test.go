package rtc

import (
	"net/http/httptest"
	"testing"
)

// TestAccess pins who may do what, as one table: the next rules go into access and here.
func TestAccess(t *testing.T) {
	locked := newAccess(&ServerConfig{Tokens: []string{"pub"}, ListenerTokens: []string{"lis"}, ViewerTokens: []string{"view"}})
	open := newAccess(&ServerConfig{ListenerTokens: []string{"lis"}})
	public := newAccess(&ServerConfig{PublicListen: true})
	for _, c := range []struct {
		name  string
		a     access
		token string // Bearer header
		query string // ?token=
		act   action
		want  bool
	}{
		{"publisher token publishes", locked, "pub", "", actPublish, true},
		{"wrong token does not publish", locked, "pubx", "", actPublish, false},
		{"no token does not publish", locked, "", "", actPublish, false},
		{"listener token does not publish", locked, "lis", "", actPublish, false},
		{"open publishing: anyone", open, "", "", actPublish, true},
		{"open publishing: not a listener", open, "lis", "", actPublish, false},
		{"listener token listens", locked, "lis", "", actListen, true},
		{"publisher token does not listen", locked, "pub", "", actListen, false},
		{"no listener tokens, not public: nobody listens", newAccess(&ServerConfig{}), "", "", actListen, false},
		{"public listening", public, "", "", actListen, true},
		{"streams: listener", locked, "lis", "", actSeeStreams, true},
		{"streams: publisher", locked, "pub", "", actSeeStreams, true},
		{"streams: nobody", locked, "", "", actSeeStreams, false},
		{"recordings: open without viewer tokens", open, "", "", actReadRecordings, true},
		{"recordings: viewer token", locked, "view", "", actReadRecordings, true},
		{"recordings: listener token in the query", locked, "", "lis", actReadRecordings, true},
		{"recordings: publisher token is no viewer", locked, "pub", "", actReadRecordings, false},
		{"recordings: none", locked, "", "", actReadRecordings, false},
	} {
		r := httptest.NewRequest("GET", "/x?token="+c.query, nil)
		if c.token != "" {
			r.Header.Set("Authorization", "Bearer "+c.token)
		}
		if got := c.a.allows(r, c.act); got != c.want {
			t.Errorf("%s: allows = %v, want %v", c.name, got, c.want)
		}
	}
}
