/* A C face for the gain control of WebRTC's audio processing module, which is C++. */
#include <stdint.h>

typedef struct podium_agc podium_agc;

#ifdef __cplusplus
extern "C" {
#endif
/* podium_agc_new returns NULL if the module will not start with these settings. */
podium_agc *podium_agc_new(int target_level_dbfs, int compression_gain_db);
/* podium_agc_process runs 10 ms (480 samples at 48 kHz) in place; 0 or the module's error. */
int podium_agc_process(podium_agc *a, int16_t *samples);
void podium_agc_free(podium_agc *a);
#ifdef __cplusplus
}
#endif
