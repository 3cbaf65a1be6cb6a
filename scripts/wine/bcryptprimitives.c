/* bcryptprimitives.dll for Wine 8, which lacks it: Go 1.22 and later get their random bytes
 * from its ProcessPrng, and die at start without it. Real Windows (10 and later) has it; this
 * is only ever copied into the tests' own Wine prefix (scripts/wine.sh). */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
