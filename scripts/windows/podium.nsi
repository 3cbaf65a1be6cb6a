; Podium's Windows installer, Podium-Setup.exe: built by make windows with Debian's makensis
; from the files in dist/windows/. Per user, without administrator rights: Podium goes to
; %LOCALAPPDATA%\Programs\Podium (where per-user programs go), its Start menu entry to the
; user's Start menu, its uninstaller to the user's Apps list (HKCU). For IT departments:
;   Podium-Setup.exe /S                      installs silently
;   Podium-Setup.exe /S /D=C:\Some\Folder    into another folder (/D last, unquoted)
;   "%LOCALAPPDATA%\Programs\Podium\Uninstall.exe" /S   uninstalls silently
; The Makefile passes VERSION and BUILD (from FyneApp.toml), DIST (the folder with the
; executables, where Podium-Setup.exe is written) and ICON (the .ico of scripts/winico).

!macro podium_need NAME
  !ifndef ${NAME}
    !error "make windows defines VERSION, BUILD, DIST and ICON: ${NAME} is missing"
  !endif
!macroend
!insertmacro podium_need VERSION
!insertmacro podium_need BUILD
!insertmacro podium_need DIST
!insertmacro podium_need ICON

; 64-bit and Unicode: Podium is a 64-bit program, and a 64-bit stub also runs where no 32-bit
; layer is installed (64-bit-only Wine, Windows without WOW64).
Unicode true
Target amd64-unicode
; One solid LZMA stream with a dictionary larger than an executable: podium.exe and
; podium-cli.exe differ only in their subsystem, so the second costs almost nothing: 19 MB,
; where NSIS's default 8 MB gives 38 MB. It takes makensis about 1 GB of memory and a minute
; or two on 2 cores (make windows remakes the installer only when its inputs change), and the
; installer 96 MB to unpack.
SetCompressor /SOLID lzma
SetCompressorDictSize 96
RequestExecutionLevel user
ManifestSupportedOS all
ManifestDPIAware true

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Podium"

Name "Podium"
OutFile "${DIST}\Podium-Setup.exe"
InstallDir "$LOCALAPPDATA\Programs\Podium"
; An update goes where the last install went.
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "Podium ${VERSION}"

VIProductVersion "${VERSION}.${BUILD}"
VIAddVersionKey /LANG=1033 "ProductName" "Podium"
VIAddVersionKey /LANG=1033 "FileDescription" "Podium Setup"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}.${BUILD}"
VIAddVersionKey /LANG=1033 "LegalCopyright" ""

!include "MUI2.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\podium.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Open Podium"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  SetShellVarContext current
FunctionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

Section "Podium"
  SetOutPath "$INSTDIR"
  ; podium.exe is the window (a GUI program: no console opens with it); podium-cli.exe is the
  ; same program for a terminal (podium-cli devices, podium-cli record …), where a GUI
  ; program's output would go nowhere and the terminal would not wait for it.
  File "${DIST}\podium.exe"
  File "${DIST}\podium-cli.exe"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortcut "$SMPROGRAMS\Podium.lnk" "$INSTDIR\podium.exe" "" "$INSTDIR\podium.exe" 0

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "Podium"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\podium.exe,0"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

; Removes what the installer put there and nothing else: recordings (in Music\Podium) and
; settings stay, as a user expects when reinstalling.
Section "Uninstall"
  Delete "$SMPROGRAMS\Podium.lnk"
  Delete "$INSTDIR\podium.exe"
  Delete "$INSTDIR\podium-cli.exe"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd
