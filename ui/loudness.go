package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// loudnessText is the meter's readout, "M -23.9  S -23.7 LUFS · good", which changes ten
// times a second. Drawn as one string, each new line cost Fyne a shaping, a measuring and
// a rasterised texture every frame (a Label added a rich-text re-layout): a third of the
// window's own time per frame. Here each character of a value is its own canvas.Text in a
// fixed place, so a tick only swaps one of a dozen one-character strings, whose size and
// texture Fyne has cached since the first second, and lays out nothing.
type loudnessText struct {
	widget.BaseWidget
	values [2]string
	tail   string // " LUFS" and the words
}

// valueChars is how many characters a value has: "-23.9", or a dash in the same place.
const valueChars = 5

func newLoudnessText() *loudnessText {
	l := &loudnessText{}
	l.setParts(app.NoLoudness, app.NoLoudness, "")
	l.ExtendBaseWidget(l)
	return l
}

// set shows the loudness and the words about it ("" for none), redrawing only if any of it
// changed; call on the UI goroutine.
func (l *loudnessText) set(momentary, shortTerm float64, words string) {
	if l.setParts(momentary, shortTerm, words) {
		l.Refresh()
	}
}

func (l *loudnessText) setParts(momentary, shortTerm float64, words string) bool {
	tail := " LUFS"
	if words != "" {
		tail += " · " + words
	}
	values := [2]string{loudnessValue(momentary), loudnessValue(shortTerm)}
	if values == l.values && tail == l.tail {
		return false
	}
	l.values, l.tail = values, tail
	return true
}

// text is the whole line, as it reads.
func (l *loudnessText) text() string { return "M " + l.values[0] + "  S " + l.values[1] + l.tail }

// loudnessValue is one loudness as the meter shows it: "-23.9", right-aligned in five
// characters; a dash while there is none yet (the first 400 ms and 3 s, or silence).
func loudnessValue(v float64) string {
	if v <= app.NoLoudness {
		return "   – "
	}
	return fmt.Sprintf("%5.1f", v)
}

func (l *loudnessText) CreateRenderer() fyne.WidgetRenderer {
	r := &loudnessRenderer{l: l, m: canvas.NewText("M ", nil), s: canvas.NewText("  S ", nil), tail: canvas.NewText("", nil), widths: map[string]float32{}}
	for i := range r.chars {
		for j := range r.chars[i] {
			r.chars[i][j] = canvas.NewText("", nil)
		}
	}
	r.Refresh()
	return r
}

type loudnessRenderer struct {
	l          *loudnessText
	m, s, tail *canvas.Text
	chars      [2][valueChars]*canvas.Text
	widths     map[string]float32 // of each character at the text size, measured once
	size       float32            // the text size widths was measured at
}

func (r *loudnessRenderer) width(ch string) float32 {
	w, ok := r.widths[ch]
	if !ok {
		w = fyne.MeasureText(ch, r.size, fyne.TextStyle{}).Width
		r.widths[ch] = w
	}
	return w
}

// slot is how wide a value is: three digits, a point and a digit (the theme's digits all
// have one width), so the numbers stand still as they change.
func (r *loudnessRenderer) slot() float32 { return 4*r.width("0") + r.width(".") }

func (r *loudnessRenderer) MinSize() fyne.Size {
	pad := r.l.Theme().Size(theme.SizeNameInnerPadding)
	w := 2*pad + r.m.MinSize().Width + r.s.MinSize().Width + r.tail.MinSize().Width + 2*r.slot()
	return fyne.NewSize(w, r.m.MinSize().Height+2*pad)
}

func (r *loudnessRenderer) Layout(s fyne.Size) {
	pad := r.l.Theme().Size(theme.SizeNameInnerPadding)
	h := r.m.MinSize().Height
	y := (s.Height - h) / 2
	place := func(t *canvas.Text, x, w float32) {
		t.Move(fyne.NewPos(x, y))
		t.Resize(fyne.NewSize(w, h))
	}
	x := pad
	for i, lead := range []*canvas.Text{r.m, r.s} {
		place(lead, x, lead.MinSize().Width)
		x += lead.MinSize().Width + r.slot()
		// the value's characters from its right edge leftwards, each in its own width
		right := x
		for j := valueChars - 1; j >= 0; j-- {
			c := r.chars[i][j]
			w := r.width(c.Text)
			right -= w
			place(c, right, w)
		}
	}
	place(r.tail, x, r.tail.MinSize().Width)
}

func (r *loudnessRenderer) Refresh() {
	th := r.l.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	size := th.Size(theme.SizeNameCaptionText)
	fg := th.Color(theme.ColorNameForeground, v)
	if size != r.size {
		r.size, r.widths = size, map[string]float32{}
	}
	set := func(t *canvas.Text, text string) {
		if t.Text != text || t.TextSize != size || t.Color != fg {
			t.Text, t.TextSize, t.Color = text, size, fg
			t.Refresh()
		}
	}
	set(r.m, "M ")
	set(r.s, "  S ")
	set(r.tail, r.l.tail)
	for i, val := range r.l.values {
		for j, ch := range []rune(val) {
			if ch == ' ' {
				ch = '\u2007' // a space as wide as a digit, so a short value keeps its place
			}
			set(r.chars[i][j], string(ch))
		}
	}
	r.Layout(r.l.Size())
}

func (r *loudnessRenderer) Objects() []fyne.CanvasObject {
	objs := []fyne.CanvasObject{r.m, r.s, r.tail}
	for i := range r.chars {
		for _, c := range r.chars[i] {
			objs = append(objs, c)
		}
	}
	return objs
}

func (r *loudnessRenderer) Destroy() {}
