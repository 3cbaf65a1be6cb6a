package app

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"podium/audio"
	"podium/audio/filename"
	"podium/audio/mp3"
	"podium/audio/voice"
)

// Prefs is where settings persist: Fyne's Preferences satisfy it, and tests use a map.
type Prefs interface {
	String(key string) string
	SetString(key, value string)
	Int(key string) int
	SetInt(key string, value int)
}

// Settings are the presenter's choices that outlive a session.
type Settings struct {
	ServerURL   string // WHIP endpoint; empty means the built-in server
	Token       string
	Stream      string // stream name on the built-in server
	Device      string // microphone ID; empty means the system default
	Folder      string // recordings folder
	Bitrate     int    // MP3 kbps
	OpusBitrate int    // b/s
	Presenter   string // for the tags and the server
	// Title is the next talk's title, for its tag (empty: titled by its file name) and the
	// server; kept with the settings, and editable while recording until Stop.
	Title        string
	NameTemplate string // file name: {date} and {time} are replaced
	// ShareLAN binds the built-in server to the local network, so listeners in the room can
	// join from their phones; off, only this computer can listen. Off by default.
	ShareLAN bool
	// ListenerToken is what listeners of the built-in server need (it is in the shared link).
	// Made once, kept, so a link handed out stays valid across restarts.
	ListenerToken string
	// RemoteListenerToken is the listener token of a configured server, from its operator:
	// it goes into the listener link the window shows (and asks the server for the count).
	RemoteListenerToken string
	// LoudnessTarget is the loudness the presenter aims at, in LUFS: one of LoudnessTargets,
	// 0 for none. With one, the meter says too quiet, good or too loud against it. None by
	// default: a raw laptop microphone reads well below a podcast's -16 LUFS, and a meter
	// that says "too quiet" to every presenter who never asked for a target helps nobody.
	LoudnessTarget int
	// CleanNoise ("Clean up background noise") and SteadyLevel ("Keep my level steady",
	// towards LoudnessTarget, or voice.DefaultTarget without one) are on by default, as every
	// browser has them on for a WebRTC microphone: listeners expect a call to sound cleaned up.
	CleanNoise, SteadyLevel bool
	// ProcessRecording applies them to the recording too. Off by default: the local MP3 keeps
	// what the microphone heard, so no setting can harm it, and it can still be cleaned up
	// afterwards; what listeners heard live cannot be had again either way.
	ProcessRecording bool
}

// Voice is the voice processing the settings ask for.
func (s Settings) Voice() voice.Options {
	return voice.Options{Denoise: s.CleanNoise, Level: s.SteadyLevel, Target: float64(s.LoudnessTarget)}
}

// LoudnessTargets are the targets a presenter can pick, in LUFS: none (0), a podcast's
// (-16, what Apple and Spotify normalise spoken word to), broadcast (-23, EBU R128).
var LoudnessTargets = []int{0, -16, -23}

// DefaultSettings are what a new presenter starts with: the built-in server, the default
// microphone, speech bitrates, recordings in the music folder.
func DefaultSettings() Settings {
	return Settings{
		Stream:       "live",
		Folder:       DefaultRecordingsDir(),
		Bitrate:      mp3.DefaultBitrate,
		OpusBitrate:  audio.DefaultOpusBitrate,
		NameTemplate: "Podium {date} {time}",
		CleanNoise:   true,
		SteadyLevel:  true,
		// LoadSettings keeps the first one it sees, so it is made once per presenter.
		ListenerToken: NewListenerToken(),
	}
}

// Bitrates are the MP3 bitrates a recording can use, in kbps, lowest first.
func Bitrates() []int { return slices.Clone(mp3.Bitrates) }

// NewListenerToken is a fresh random listener token (128 bits from crypto/rand, in hex: safe
// in a URL as it is).
func NewListenerToken() string { return randomToken() }

// listenerToken: empty (one is made when the server starts) or URL-safe as it is.
var listenerToken = regexp.MustCompile(`^[A-Za-z0-9._~-]{0,256}$`)

// Validate says plainly what is wrong, one problem per line.
func (s Settings) Validate() error {
	var errs []error
	if s.ServerURL != "" {
		u, err := url.Parse(s.ServerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("server address %q is not an http:// or https:// URL", s.ServerURL))
		}
	}
	if err := filename.CheckStream(s.Stream); err != nil {
		errs = append(errs, err)
	}
	if err := checkWritableDir(s.Folder); err != nil {
		errs = append(errs, err)
	}
	if err := mp3.CheckBitrate(s.Bitrate); err != nil {
		errs = append(errs, err)
	}
	if err := audio.CheckOpusBitrate(s.OpusBitrate); err != nil {
		errs = append(errs, err)
	}
	if strings.ContainsAny(s.NameTemplate, `/\`) || filename.Safe(s.NameTemplate) == "" {
		errs = append(errs, fmt.Errorf("file name %q: must be a name, without / or \\", s.NameTemplate))
	}
	if !listenerToken.MatchString(s.ListenerToken) {
		errs = append(errs, fmt.Errorf("listener token: use letters, digits, - _ . or ~, no spaces"))
	}
	if s.RemoteListenerToken != "" && strings.ContainsAny(s.RemoteListenerToken, " \t\r\n") {
		errs = append(errs, fmt.Errorf("listener token: no spaces"))
	}
	if !slices.Contains(LoudnessTargets, s.LoudnessTarget) {
		errs = append(errs, fmt.Errorf("loudness target %d LUFS: choose none, -16 or -23", s.LoudnessTarget))
	}
	return errors.Join(errs...)
}

// checkWritableDir says whether recordings can be made in dir. The folder is quoted “so”,
// not with %q, which would show a Windows path as C:\\Users\\….
func checkWritableDir(dir string) error {
	if dir == "" {
		return errors.New("recordings folder is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("recordings folder “%s” cannot be created: %v", dir, err)
	}
	f, err := os.CreateTemp(dir, ".podium-write-test-*")
	if err != nil {
		return fmt.Errorf("recordings folder “%s” is not writable: %v", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// FileName is the recording's file name for a start time: the template filled in, made a
// name every platform keeps (filename.Safe: "Q&A: {date}" gives "Q&A_ 2026-12-07.mp3").
func (s Settings) FileName(t time.Time) string {
	r := strings.NewReplacer("{date}", t.Format("2006-01-02"), "{time}", t.Format("15-04-05"))
	return filename.Safe(r.Replace(s.NameTemplate)) + ".mp3"
}

const prefsPrefix = "podium."

// LoadSettings reads settings, keeping defaults for anything never saved.
func LoadSettings(p Prefs) Settings {
	s := DefaultSettings()
	str := func(key string, dst *string) {
		if v := p.String(prefsPrefix + key); v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *int) {
		if v := p.Int(prefsPrefix + key); v != 0 {
			*dst = v
		}
	}
	str("server", &s.ServerURL)
	str("token", &s.Token)
	str("stream", &s.Stream)
	str("device", &s.Device)
	str("folder", &s.Folder)
	num("bitrate", &s.Bitrate)
	num("opus_bitrate", &s.OpusBitrate)
	str("presenter", &s.Presenter)
	str("title", &s.Title)
	str("name_template", &s.NameTemplate)
	str("remote_listener_token", &s.RemoteListenerToken)
	s.ShareLAN = p.Int(prefsPrefix+"share_lan") == 1
	// Switches stored as 1 (on) or -1 (off): 0, never saved, keeps the default.
	flag := func(key string, dst *bool) {
		if v := p.Int(prefsPrefix + key); v != 0 {
			*dst = v > 0
		}
	}
	flag("clean_noise", &s.CleanNoise)
	flag("steady_level", &s.SteadyLevel)
	flag("process_recording", &s.ProcessRecording)
	if v := p.Int(prefsPrefix + "loudness_target"); slices.Contains(LoudnessTargets, v) {
		s.LoudnessTarget = v
	}
	// The listener token is made on the first load and kept from then on.
	if v := p.String(prefsPrefix + "listener_token"); v != "" {
		s.ListenerToken = v
	} else {
		p.SetString(prefsPrefix+"listener_token", s.ListenerToken)
	}
	// An empty server is a choice (the built-in one), so it is stored with a marker.
	if s.ServerURL == builtinMarker {
		s.ServerURL = ""
	}
	return s
}

const builtinMarker = "builtin"

// SaveSettings validates and stores s; nothing is stored when it is invalid.
func SaveSettings(p Prefs, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	server := s.ServerURL
	if server == "" {
		server = builtinMarker
	}
	p.SetString(prefsPrefix+"server", server)
	p.SetString(prefsPrefix+"token", s.Token)
	p.SetString(prefsPrefix+"stream", s.Stream)
	p.SetString(prefsPrefix+"device", s.Device)
	p.SetString(prefsPrefix+"folder", filepath.Clean(s.Folder))
	p.SetInt(prefsPrefix+"bitrate", s.Bitrate)
	p.SetInt(prefsPrefix+"opus_bitrate", s.OpusBitrate)
	p.SetString(prefsPrefix+"presenter", s.Presenter)
	p.SetString(prefsPrefix+"title", s.Title)
	p.SetString(prefsPrefix+"name_template", s.NameTemplate)
	if s.ListenerToken != "" { // empty keeps the one stored
		p.SetString(prefsPrefix+"listener_token", s.ListenerToken)
	}
	p.SetString(prefsPrefix+"remote_listener_token", s.RemoteListenerToken)
	lan := 0
	if s.ShareLAN {
		lan = 1
	}
	p.SetInt(prefsPrefix+"share_lan", lan)
	p.SetInt(prefsPrefix+"loudness_target", s.LoudnessTarget)
	flag := func(key string, v bool) {
		if v {
			p.SetInt(prefsPrefix+key, 1)
		} else {
			p.SetInt(prefsPrefix+key, -1)
		}
	}
	flag("clean_noise", s.CleanNoise)
	flag("steady_level", s.SteadyLevel)
	flag("process_recording", s.ProcessRecording)
	return nil
}

// MapPrefs is an in-memory Prefs, for tests and the headless command.
type MapPrefs map[string]any

func (m MapPrefs) String(k string) string {
	v, _ := m[k].(string)
	return v
}
func (m MapPrefs) SetString(k, v string) { m[k] = v }
func (m MapPrefs) Int(k string) int {
	v, _ := m[k].(int)
	return v
}
func (m MapPrefs) SetInt(k string, v int) { m[k] = v }
