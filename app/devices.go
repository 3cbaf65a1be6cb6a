package app

import "podium/audio/capture"

// Device is a microphone as the window lists it.
type Device = capture.Device

// NullDevice is miniaudio's null backend: silence on a clock, for tests with no sound card.
const NullDevice = capture.NullDevice

// Devices lists the microphones the system offers now; one of them may be marked Default.
func Devices() ([]Device, error) { return capture.List() }
