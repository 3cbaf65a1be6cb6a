package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// clockScale makes the clock readable from a lectern: the theme's heading size, 1.7 times.
const clockScale = 1.7

// clockText is the elapsed time, drawn as a label would draw it (the theme's text colour,
// inner padding around it) at clockScale times the heading size, in the regular style. It is
// not a Label in a theme override because Fyne parses a whole font set (with the 4 MB emoji
// font) for every text style in every override scope: this way the clock shares the set the
// other labels use. The regular style's digits all have one width, so the clock's width
// never changes as it counts and a tick re-lays out nothing.
type clockText struct {
	widget.BaseWidget
	Text string
}

func newClockText(text string) *clockText {
	c := &clockText{Text: text}
	c.ExtendBaseWidget(c)
	return c
}

// set shows text, redrawing only if it changed; call on the UI goroutine.
func (c *clockText) set(text string) {
	if c.Text == text {
		return
	}
	c.Text = text
	c.Refresh()
}

func (c *clockText) CreateRenderer() fyne.WidgetRenderer {
	r := &clockRenderer{c: c, text: canvas.NewText(c.Text, nil)}
	r.Refresh()
	return r
}

type clockRenderer struct {
	c    *clockText
	text *canvas.Text
}

// pad is the space around the text: a label's inner padding at the sides, half of it above
// and below, because the regular font's line is taller than the digits need (room for
// accents) and the row keeps the height it had with the monospaced clock.
func (r *clockRenderer) pad() fyne.Size {
	p := r.c.Theme().Size(theme.SizeNameInnerPadding)
	return fyne.NewSize(p, p/2)
}

func (r *clockRenderer) MinSize() fyne.Size {
	p := r.pad()
	return r.text.MinSize().AddWidthHeight(2*p.Width, 2*p.Height)
}

func (r *clockRenderer) Layout(fyne.Size) {
	p := r.pad()
	r.text.Move(fyne.NewPos(p.Width, p.Height))
	r.text.Resize(r.text.MinSize())
}

func (r *clockRenderer) Refresh() {
	th := r.c.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.text.Text = r.c.Text
	r.text.Color = th.Color(theme.ColorNameForeground, v)
	r.text.TextSize = th.Size(theme.SizeNameHeadingText) * clockScale
	r.Layout(r.c.Size())
	r.text.Refresh()
}

func (r *clockRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.text} }

func (r *clockRenderer) Destroy() {}
