package audio

import "slices"

// MP3Bitrates are the bitrates CreateMP3 accepts, in kbps, lowest first.
// TODO(merge): replaced by mp3.Bitrates; delete this file.
func MP3Bitrates() []int { return slices.Clone(mp3Bitrates) }
