package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Logging off, shutting down and restarting end a Windows session. Go turns them into
// syscall.SIGTERM only for a console program that has no window library loaded: podium.exe
// loads user32 (Fyne's GLFW) whether it opens the window or records from the command line,
// so Windows tells it by WM_QUERYENDSESSION and WM_ENDSESSION to its top-level windows instead,
// and ends the process once every window has answered WM_ENDSESSION. notifyEndSession gives
// Podium a hidden top-level window of its own that turns WM_ENDSESSION into the SIGTERM the
// rest of Podium already handles, and answers only when the recording is finalised (the
// process exits) or endSessionWait has passed. It is not a message-only window
// (HWND_MESSAGE): those never hear broadcasts such as WM_QUERYENDSESSION.

// endSessionWait bounds how long the end of the session waits for Podium: the MP3 is final
// in well under a second; the live stream's goodbye and the window's closing take the rest.
const endSessionWait = 20 * time.Second

const (
	wmClose           = 0x0010
	wmQueryEndSession = 0x0011
	wmEndSession      = 0x0016
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
)

// wndClassEx is WNDCLASSEXW.
type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

// msg is MSG.
type msg struct {
	hwnd    windows.HWND
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
	private uint32
}

var endSession struct {
	once sync.Once
	mu   sync.Mutex
	c    chan<- os.Signal // where the end of the session goes; nil once stopped
}

// notifyEndSession sends syscall.SIGTERM on c when the Windows session ends, as signal.Notify
// does when a console is closed. stop ends that before c is closed; the window stays (one per
// process) and lets the session end at once from then on.
func notifyEndSession(c chan<- os.Signal) (stop func()) {
	endSession.mu.Lock()
	endSession.c = c
	endSession.mu.Unlock()
	endSession.once.Do(func() {
		ready := make(chan error, 1)
		go endSessionLoop(ready)
		if err := <-ready; err != nil {
			fmt.Fprintf(os.Stderr, "podium: logging off or shutting down will not wait for the recording: %v\n", err)
		}
	})
	return func() {
		endSession.mu.Lock()
		endSession.c = nil
		endSession.mu.Unlock()
	}
}

// endSessionLoop makes the hidden window and runs its messages, on a thread of its own: a
// window's messages come to the thread that made it.
func endSessionLoop(ready chan<- error) {
	runtime.LockOSThread() // for good: the window lives as long as the process
	var inst windows.Handle
	if err := windows.GetModuleHandleEx(0, nil, &inst); err != nil {
		ready <- fmt.Errorf("module handle: %w", err)
		return
	}
	name, _ := windows.UTF16PtrFromString("PodiumEndSession")
	wc := wndClassEx{wndProc: windows.NewCallback(endSessionProc), instance: inst, className: name}
	wc.size = uint32(unsafe.Sizeof(wc))
	if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
		ready <- fmt.Errorf("RegisterClassExW: %w", err)
		return
	}
	// Never shown (no WS_VISIBLE), no parent: a top-level window, which the session's end
	// reaches, and which no one sees.
	hwnd, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(name)),
		0, 0, 0, 0, 0, 0, 0, uintptr(inst), 0)
	if hwnd == 0 {
		ready <- fmt.Errorf("CreateWindowExW: %w", err)
		return
	}
	ready <- nil
	var m msg
	for {
		// Sent messages (how the session's end arrives) are delivered inside GetMessage.
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 {
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}

// endSessionProc is the hidden window's procedure. WM_QUERYENDSESSION is answered yes (the
// session may yet be cancelled by another program: the recording goes on until
// WM_ENDSESSION says it ends). WM_ENDSESSION stops the recording as SIGTERM does and waits;
// the process normally exits while this waits. WM_CLOSE, which `taskkill /PID n` (without
// /F) sends to every top-level window, is SIGTERM too, as podman's winquit does: left to
// DefWindowProc it would destroy this window, taskkill would report success, and Podium
// would record on.
func endSessionProc(hwnd windows.HWND, message uint32, wParam, lParam uintptr) uintptr {
	switch message {
	case wmClose:
		sendEndSession()
		return 0
	case wmQueryEndSession:
		return 1
	case wmEndSession:
		if wParam != 0 && sendEndSession() {
			time.Sleep(endSessionWait)
		}
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(uintptr(hwnd), uintptr(message), wParam, lParam)
	return r
}

// sendEndSession delivers SIGTERM, and says whether anyone was listening.
func sendEndSession() bool {
	endSession.mu.Lock()
	defer endSession.mu.Unlock()
	if endSession.c == nil {
		return false
	}
	select {
	case endSession.c <- syscall.SIGTERM:
	default: // a signal is already waiting there: it does the same
	}
	return true
}
