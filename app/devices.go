package app

import "podium/audio"

// Device is a microphone as the window lists it.
type Device = audio.Device

// NullDevice is miniaudio's null backend: silence on a clock, for tests with no sound card.
const NullDevice = audio.NullDevice

// Devices lists the microphones the system offers now; one of them may be marked Default.
func Devices() ([]Device, error) { return audio.ListDevices() }
