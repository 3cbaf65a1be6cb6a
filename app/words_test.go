package app_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"podium/app"
	"podium/audio/capture"
	"podium/audio/mp3"
)

// No microphone is said once, in the one wording, and still tells errors.Is what it was.
func TestExplainNoMicrophone(t *testing.T) {
	err := app.Explain(fmt.Errorf("open default microphone: %w", capture.ErrNoDevice))
	if err == nil || err.Error() != app.NoMicrophone {
		t.Errorf("Explain = %q, want exactly %q", err, app.NoMicrophone)
	}
	if !errors.Is(err, capture.ErrNoDevice) {
		t.Error("the explained error no longer unwraps to ErrNoDevice")
	}
}

// Bitrates are the ones a recording accepts, and a caller cannot change them.
func TestBitrates(t *testing.T) {
	rates := app.Bitrates()
	if !slices.Contains(rates, mp3.DefaultBitrate) || !slices.IsSorted(rates) {
		t.Errorf("Bitrates() = %v", rates)
	}
	for _, k := range rates {
		if err := mp3.CheckBitrate(k); err != nil {
			t.Errorf("offered %d kbps: %v", k, err)
		}
	}
	rates[0] = 1
	if app.Bitrates()[0] == 1 {
		t.Error("Bitrates() hands out the list itself")
	}
}

// The meter's verdict against a target, with 3 LU either side counted good.
func TestLoudnessWords(t *testing.T) {
	for _, tc := range []struct {
		short  float64
		target int
		want   string
	}{
		{-16, 0, ""},
		{app.NoLoudness, -16, ""},
		{-25, -16, "too quiet"},
		{-19.1, -16, "too quiet"},
		{-19, -16, "good"},
		{-16, -16, "good"},
		{-13, -16, "good"},
		{-12.9, -16, "too loud"},
		{-16, -23, "too loud"},
		{-23.5, -23, "good"},
		{-30, -23, "too quiet"},
	} {
		if got := app.LoudnessWords(tc.short, tc.target); got != tc.want {
			t.Errorf("LoudnessWords(%v, %d) = %q, want %q", tc.short, tc.target, got, tc.want)
		}
	}
}
