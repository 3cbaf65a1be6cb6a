// Package voice cleans up a presenter's voice: noise suppression and level control.
package voice

import (
	"podium/audio/pcm"
)

type Options struct {
	Denoise bool
	Level   bool
	Backend string
}

type engine interface {
	process(s []int16) error
	close()
}

type Processor struct {
	e   engine
	buf [pcm.FrameSamples]int16
}

func New(o Options) (*Processor, error) {
	var e engine
	var err error
	if o.Backend == "apm" {
		e, err = newAPM(o)
	} else {
		e, err = newSpeex(o)
	}
	if err != nil {
		return nil, err
	}
	return &Processor{e: e}, nil
}

func (p *Processor) Process(s []int16) error {
	n := copy(p.buf[:], s)
	clear(p.buf[n:])
	if err := p.e.process(p.buf[:]); err != nil {
		return err
	}
	copy(s, p.buf[:n])
	return nil
}

func (p *Processor) Close() { p.e.close() }
