package wintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/pe"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The installer a user downloads, as IT departments run it: make windows builds
// dist/windows/, Podium-Setup.exe /S installs it under Wine into a prefix made for this test
// alone (a clean machine, and no other test's Wine programs or files in the way: wineboot
// costs 12 s and 690 MB of the test's temporary folder), the installed programs run, the
// Start menu entry and the Apps-list entry are there, and Uninstall.exe /S takes it all away.
func TestSetupSilentInstall(t *testing.T) {
	testkit.Need(t, "wine", "wineserver", "makensis", "x86_64-w64-mingw32-gcc")
	root := audiotest.Root()
	version, build := setupVersion(t, root)

	start := time.Now()
	mk := exec.Command("make", "-s", "windows")
	mk.Dir = root
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make windows: %v\n%s", err, out)
	}
	t.Logf("make windows: %v", time.Since(start).Round(100*time.Millisecond))
	dist := filepath.Join(root, "dist", "windows")
	setupCheckExecutables(t, dist, version+"."+build)

	// The prefix: scripts/wine.sh makes it as it makes its own (wineboot, and the DLL Go needs
	// that Wine 8 lacks), and its podium help says Wine runs Podium there. Wine's menu builder
	// is off: it would copy the Start menu entry into this Linux user's desktop menu.
	own := prefix(t.TempDir())
	env := append(own.env(), "WINEDLLOVERRIDES=mscoree,mshtml=;winemenubuilder.exe=d")
	t.Cleanup(own.kill) // ends this prefix's Wine processes only
	start = time.Now()
	if out, code := setupRun(t, env, "bash", filepath.Join(root, "scripts", "wine.sh"), "podium", "help"); code != 0 {
		t.Fatalf("scripts/wine.sh podium help in a new prefix: exit %d\n%s", code, out)
	}
	t.Logf("new Wine prefix: %v", time.Since(start).Round(100*time.Millisecond))
	home := own.home(t)
	installed := filepath.Join(home, "AppData", "Local", "Programs", "Podium")
	shortcut := filepath.Join(home, "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Podium.lnk")
	const key = `HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\Podium`

	// Twice: the second is an update over an installed Podium, as IT departments push them.
	for i := range 2 {
		start = time.Now()
		if out, code := setupRun(t, env, "wine", filepath.Join(dist, "Podium-Setup.exe"), "/S"); code != 0 {
			t.Fatalf("Podium-Setup.exe /S (install %d): exit %d\n%s", i+1, code, out)
		}
		t.Logf("silent install %d: %v", i+1, time.Since(start).Round(100*time.Millisecond))
	}

	// What was installed is what was built, byte for byte.
	for _, exe := range []string{"podium.exe", "podium-cli.exe"} {
		if got, want := setupSum(t, filepath.Join(installed, exe)), setupSum(t, filepath.Join(dist, exe)); got != want {
			t.Errorf("installed %s differs from dist/windows/%s", exe, exe)
		}
	}
	if _, err := os.Stat(filepath.Join(installed, "Uninstall.exe")); err != nil {
		t.Errorf("no uninstaller: %v", err)
	}

	// The installed programs run. Under Wine the window program's output reaches this pipe; on
	// Windows a GUI program's output goes nowhere, which is why the CLI is podium-cli.exe.
	for _, c := range []struct {
		exe, arg string
		code     int
		want     string
	}{
		{"podium-cli.exe", "help", 0, "podium devices"},
		{"podium-cli.exe", "nosuch", 2, `unknown command "nosuch"`},
		{"podium.exe", "help", 0, "podium devices"},
	} {
		out, code := setupRun(t, env, "wine", filepath.Join(installed, c.exe), c.arg)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("installed %s %s: exit %d, want %d with %q; output:\n%s", c.exe, c.arg, code, c.code, c.want, out)
		}
	}

	// The Start menu entry opens the installed window program (a .lnk names its target's path).
	lnk, err := os.ReadFile(shortcut)
	if err != nil {
		t.Fatalf("no Start menu entry: %v", err)
	}
	if target := `\AppData\Local\Programs\Podium\podium.exe`; !bytes.Contains(lnk, []byte(target)) && !bytes.Contains(lnk, setupUTF16(target)) {
		t.Errorf("Podium.lnk does not point at ...%s", target)
	}
	// The Apps list has it, with the version of FyneApp.toml and a silent uninstall for IT.
	out, code := setupRun(t, env, "wine", "reg", "query", key)
	for _, want := range []string{"DisplayVersion    REG_SZ    " + version, `Uninstall.exe" /S`} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("reg query %s: exit %d, want %q in:\n%s", key, code, want, out)
		}
	}

	// The uninstaller copies itself away and returns at once (as NSIS uninstallers do, so that
	// it can delete itself): what it removes goes in the following seconds.
	if out, code := setupRun(t, env, "wine", filepath.Join(installed, "Uninstall.exe"), "/S"); code != 0 {
		t.Fatalf("Uninstall.exe /S: exit %d\n%s", code, out)
	}
	testkit.WaitFor(t, time.Minute, "the uninstaller to remove "+installed+" and Podium.lnk", func() bool {
		_, errDir := os.Stat(installed)
		_, errLnk := os.Stat(shortcut)
		return os.IsNotExist(errDir) && os.IsNotExist(errLnk)
	})
	if out, code := setupRun(t, env, "wine", "reg", "query", key); code == 0 {
		t.Errorf("after uninstalling, %s is still there:\n%s", key, out)
	}
}

// setupVersion reads Version and Build from FyneApp.toml, where make windows takes them.
func setupVersion(t *testing.T, root string) (version, build string) {
	t.Helper()
	toml, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	v := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindSubmatch(toml)
	b := regexp.MustCompile(`(?m)^\s*Build\s*=\s*(\d+)`).FindSubmatch(toml)
	if v == nil || b == nil {
		t.Fatalf("FyneApp.toml has no Version or Build")
	}
	return string(v[1]), string(b[1])
}

// setupWindowsDLLs are the DLLs every Windows has. Anything else (libwinpthread-1.dll,
// libstdc++-6.dll, libopus-0.dll…) would have to be shipped beside the executable.
var setupWindowsDLLs = []string{"advapi32.dll", "comctl32.dll", "gdi32.dll", "kernel32.dll", "msvcrt.dll",
	"ole32.dll", "opengl32.dll", "shell32.dll", "user32.dll"}

// setupCheckExecutables checks what make windows built, before anything is installed: each
// executable imports only Windows' own DLLs; podium.exe is a GUI program and podium-cli.exe a
// console one; both carry the manifest, the version fileVersion and the icon at 16 and 256
// pixels.
func setupCheckExecutables(t *testing.T, dist, fileVersion string) {
	t.Helper()
	for _, c := range []struct {
		exe       string
		subsystem uint16 // 0: not checked
		resources bool
	}{
		{"podium.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_GUI, true},
		{"podium-cli.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_CUI, true},
		{"podium-server.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_CUI, false},
		{"Podium-Setup.exe", pe.IMAGE_SUBSYSTEM_WINDOWS_GUI, false},
	} {
		f, err := pe.Open(filepath.Join(dist, c.exe))
		if err != nil {
			t.Fatalf("%s: %v", c.exe, err)
		}
		defer f.Close()
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if !ok {
			t.Errorf("%s is not a 64-bit executable", c.exe)
			continue
		}
		if oh.Subsystem != c.subsystem {
			t.Errorf("%s: subsystem %d, want %d", c.exe, oh.Subsystem, c.subsystem)
		}
		dlls, err := f.ImportedLibraries()
		if err != nil {
			t.Fatalf("%s: imports: %v", c.exe, err)
		}
		for _, dll := range dlls {
			if !slices.Contains(setupWindowsDLLs, strings.ToLower(dll)) {
				t.Errorf("%s imports %s, which Windows does not have", c.exe, dll)
			}
		}
		if !c.resources {
			continue
		}
		s := f.Section(".rsrc")
		if s == nil {
			t.Errorf("%s has no resources (no icon, version or manifest)", c.exe)
			continue
		}
		rsrc, err := s.Data()
		if err != nil {
			t.Fatalf("%s: %v", c.exe, err)
		}
		if !bytes.Contains(rsrc, []byte(`level="asInvoker"`)) {
			t.Errorf("%s: no manifest", c.exe)
		}
		// A version string is its key, padding to 4 bytes, then its value.
		if !bytes.Contains(rsrc, setupUTF16("FileVersion\x00")) || !bytes.Contains(rsrc, setupUTF16(fileVersion+"\x00")) {
			t.Errorf("%s: no FileVersion %s in its version resource", c.exe, fileVersion)
		}
		var sizes []int
		for i := 0; ; {
			j := bytes.Index(rsrc[i:], []byte("\x89PNG\r\n\x1a\n"))
			if j < 0 {
				break
			}
			if cfg, err := png.DecodeConfig(bytes.NewReader(rsrc[i+j:])); err == nil {
				sizes = append(sizes, cfg.Width)
			}
			i += j + 1
		}
		if !slices.Contains(sizes, 16) || !slices.Contains(sizes, 256) {
			t.Errorf("%s: icons of %v pixels, want 16 and 256 among them", c.exe, sizes)
		}
	}
}

// setupRun runs a command to its end (at most 3 minutes) and returns its output and exit code.
func setupRun(t *testing.T, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after 3 minutes\n%s", name, strings.Join(args, " "), out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// setupSum is the SHA-256 of a file.
func setupSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// setupUTF16 is s as UTF-16LE, as Windows stores strings in resources and shortcuts (ASCII only).
func setupUTF16(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return b
}
