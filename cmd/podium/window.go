package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"podium/app"
	"podium/assets"
	"podium/ui"
)

// AppID is Podium's application id (FyneApp.toml): it names where preferences are kept.
const AppID = "app.podium.desktop"

// windowCmd opens the presenter's window and returns when it is closed. Any recording is
// finalised first: on the close button (after asking), on Ctrl+Q, on SIGINT or SIGTERM, and
// when the Windows session ends.
func windowCmd(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (podium help lists the commands)", args[0])
	}
	if runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return fmt.Errorf("no display to open the window on (DISPLAY is not set); to record without a window use: podium record")
	}
	a := fyneapp.NewWithID(AppID)
	// Every widget change goes through fyne.Do (ui.Window.ui), so Fyne's thread check, which
	// reads the goroutine's id from a stack trace on every canvas refresh, only costs the
	// meter's redraws. FyneApp.toml says so for fyne package; go build reads no metadata.
	meta := a.Metadata()
	if meta.Migrations == nil {
		meta.Migrations = map[string]bool{}
	}
	meta.Migrations["fyneDo"] = true
	fyneapp.SetMetadata(meta)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := ui.New(a, ui.Config{Settings: app.LoadSettings(a.Preferences())})
	w.Window().SetIcon(a.Icon())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	stopEndSession := notifyEndSession(sig) // logging off or shutting down Windows: SIGTERM too
	go func() {
		if _, ok := <-sig; ok {
			w.Quit()
		}
	}()
	w.ShowAndRun()
	signal.Stop(sig)
	stopEndSession()
	close(sig)
	// The window closes only after the session has finished; this is the last safety net.
	return w.Session().Close()
}
