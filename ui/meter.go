package ui

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// meterPanel is the level meter and, under it, the warning that the input clips.
type meterPanel struct {
	meter     *levelMeter
	loud      *loudnessText
	clip      *widget.Label
	clipUntil time.Time // the warning stays this long after the last clipped block
}

func newMeterPanel() *meterPanel {
	p := &meterPanel{meter: newLevelMeter(), loud: newLoudnessText(), clip: widget.NewLabel("")}
	p.clip.Importance = widget.DangerImportance
	p.clip.TextStyle = fyne.TextStyle{Bold: true}
	p.clip.Hide()
	return p
}

func (p *meterPanel) objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{container.NewBorder(nil, nil, widget.NewLabel("Level"), p.loud, p.meter), p.clip}
}

// apply shows the level of s while recording, an empty meter otherwise.
func (p *meterPanel) apply(s app.Snapshot) {
	if s.State != app.StateRecording {
		p.meter.set(0, 0, false)
		p.loud.set(app.NoLoudness, app.NoLoudness, "")
		p.clip.Hide()
		return
	}
	p.loud.set(s.Momentary, s.ShortTerm, s.LoudnessWords)
	if s.Clipped {
		p.clipUntil = time.Now().Add(2 * time.Second)
	}
	clip := time.Now().Before(p.clipUntil)
	p.meter.set(level(s.Peak), level(s.RMS), clip)
	if clip {
		setText(p.clip, "CLIPPING: too loud. Move the microphone away or lower its gain.")
	}
	setShown(p.clip, clip)
}

// levelMeter shows two bars: the peak (thin, on top) and the RMS loudness (thick). When the
// input clips, the peak bar and the frame turn red.
type levelMeter struct {
	widget.BaseWidget
	peak, rms float32 // 0..1
	clipped   bool
}

func newLevelMeter() *levelMeter {
	m := &levelMeter{}
	m.ExtendBaseWidget(m)
	return m
}

// set changes the levels; call on the UI goroutine. A change the bars cannot show (less than
// a pixel) redraws nothing: each redraw repaints the window.
func (m *levelMeter) set(peak, rms float32, clipped bool) {
	if m.clipped == clipped && m.px(m.peak) == m.px(peak) && m.px(m.rms) == m.px(rms) {
		return
	}
	m.peak, m.rms, m.clipped = peak, rms, clipped
	m.Refresh()
}

// px is how wide a bar at level f is drawn, in whole pixels; before the first layout, any
// change counts.
func (m *levelMeter) px(f float32) float32 {
	inner := m.Size().Width - 2*meterPad
	if inner <= 0 {
		return f
	}
	return float32(int(f * inner))
}

func (m *levelMeter) CreateRenderer() fyne.WidgetRenderer {
	r := &meterRenderer{
		m:         m,
		frame:     canvas.NewRectangle(color.Transparent),
		peakTrack: canvas.NewRectangle(color.Transparent),
		rmsTrack:  canvas.NewRectangle(color.Transparent),
		peakBar:   canvas.NewRectangle(color.Transparent),
		rmsBar:    canvas.NewRectangle(color.Transparent),
	}
	// marks at -40, -20, -10 and -3 dBFS help to read the bar at a glance
	for _, db := range []float64{-40, -20, -10, -3} {
		r.marks = append(r.marks, canvas.NewRectangle(color.Transparent))
		r.markAt = append(r.markAt, level(db))
	}
	r.Refresh()
	return r
}

type meterRenderer struct {
	m                                           *levelMeter
	frame, peakTrack, rmsTrack, peakBar, rmsBar *canvas.Rectangle
	marks                                       []*canvas.Rectangle
	markAt                                      []float32
}

const (
	meterPeakH = 8
	meterGap   = 3
	meterRMSH  = 18
	meterPad   = 2
)

func (r *meterRenderer) MinSize() fyne.Size {
	return fyne.NewSize(160, meterPeakH+meterGap+meterRMSH+2*meterPad)
}

func (r *meterRenderer) Layout(s fyne.Size) {
	r.frame.Resize(s)
	r.frame.Move(fyne.NewPos(0, 0))
	inner := s.Width - 2*meterPad
	y := (s.Height - (meterPeakH + meterGap + meterRMSH)) / 2
	r.peakTrack.Move(fyne.NewPos(meterPad, y))
	r.peakTrack.Resize(fyne.NewSize(inner, meterPeakH))
	r.peakBar.Move(fyne.NewPos(meterPad, y))
	r.peakBar.Resize(fyne.NewSize(inner*r.m.peak, meterPeakH))
	y2 := y + meterPeakH + meterGap
	r.rmsTrack.Move(fyne.NewPos(meterPad, y2))
	r.rmsTrack.Resize(fyne.NewSize(inner, meterRMSH))
	r.rmsBar.Move(fyne.NewPos(meterPad, y2))
	r.rmsBar.Resize(fyne.NewSize(inner*r.m.rms, meterRMSH))
	for i, mk := range r.marks {
		mk.Move(fyne.NewPos(meterPad+inner*r.markAt[i], y))
		mk.Resize(fyne.NewSize(1, meterPeakH+meterGap+meterRMSH))
	}
}

func (r *meterRenderer) Refresh() {
	th := r.m.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.peakTrack.FillColor = th.Color(theme.ColorNameInputBackground, v)
	r.rmsTrack.FillColor = th.Color(theme.ColorNameInputBackground, v)
	r.rmsBar.FillColor = th.Color(theme.ColorNameSuccess, v)
	r.peakBar.FillColor = th.Color(theme.ColorNamePrimary, v)
	r.frame.FillColor = color.Transparent
	r.frame.StrokeWidth = 0
	if r.m.clipped {
		r.peakBar.FillColor = th.Color(theme.ColorNameError, v)
		r.frame.StrokeColor = th.Color(theme.ColorNameError, v)
		r.frame.StrokeWidth = 2
	}
	for _, mk := range r.marks {
		mk.FillColor = th.Color(theme.ColorNameSeparator, v)
	}
	r.Layout(r.m.Size())
	canvas.Refresh(r.m)
}

func (r *meterRenderer) Objects() []fyne.CanvasObject {
	objs := []fyne.CanvasObject{r.frame, r.peakTrack, r.rmsTrack, r.peakBar, r.rmsBar}
	for _, mk := range r.marks {
		objs = append(objs, mk)
	}
	return objs
}

func (r *meterRenderer) Destroy() {}
