// Command benchwin is the yardstick make bench measures the presenter's window against: the
// smallest Fyne window on the same display, the same size as Podium's. With no flag it is one
// button and nothing moves (what the toolkit costs at rest); with -animate a label and a
// progress bar change 12.5 times a second, as Podium's clock and meter do while recording
// (what the toolkit costs to show that much motion).
package main

import (
	"flag"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

func main() {
	animate := flag.Bool("animate", false, "update a label and a progress bar 12.5 times a second")
	flag.Parse()
	a := fyneapp.NewWithID("app.podium.benchwin")
	w := a.NewWindow("Podium bench")
	btn := widget.NewButton("Start recording", func() {})
	if !*animate {
		w.SetContent(btn)
	} else {
		label := widget.NewLabel("00:00:00")
		bar := widget.NewProgressBar()
		w.SetContent(container.NewVBox(btn, label, bar))
		go func() {
			start := time.Now()
			for t := range time.Tick(80 * time.Millisecond) {
				el := t.Sub(start)
				s := int(el / time.Second)
				text := fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
				frac := float64(el%(2*time.Second)) / float64(2*time.Second)
				fyne.Do(func() {
					label.SetText(text)
					bar.SetValue(frac)
				})
			}
		}()
	}
	w.Resize(fyne.NewSize(520, 700))
	w.ShowAndRun()
}
