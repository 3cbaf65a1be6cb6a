package app

import "golang.org/x/sys/windows"

// musicDir is the user's Music known folder (FOLDERID_Music), wherever the user or the
// domain's policy put it (moved to D:, or redirected to OneDrive): never %USERPROFILE%\Music
// by name.
func musicDir() (string, bool) {
	dir, err := windows.KnownFolderPath(windows.FOLDERID_Music, 0)
	return dir, err == nil && dir != ""
}
