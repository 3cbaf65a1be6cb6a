package ui

import "testing"

// Explorer gets the path quoted after /select, with backslashes, whatever slashes it came with.
func TestRevealCmdLine(t *testing.T) {
	exe := `C:\Windows\explorer.exe`
	for _, c := range []struct{ path, want string }{
		{`C:\Users\Ada\Music\Podium\talk.mp3`, `"C:\Windows\explorer.exe" /select,"C:\Users\Ada\Music\Podium\talk.mp3"`},
		{`D:\My Music\Podium\Q&A_ part 2.mp3`, `"C:\Windows\explorer.exe" /select,"D:\My Music\Podium\Q&A_ part 2.mp3"`},
		{`C:/Users/Ada/Music/Podium/talk.mp3`, `"C:\Windows\explorer.exe" /select,"C:\Users\Ada\Music\Podium\talk.mp3"`},
		{`\\server\share\talk (2).mp3`, `"C:\Windows\explorer.exe" /select,"\\server\share\talk (2).mp3"`},
	} {
		if got := revealCmdLine(exe, c.path); got != c.want {
			t.Errorf("revealCmdLine(%q) =\n %s\nwant\n %s", c.path, got, c.want)
		}
	}
}
