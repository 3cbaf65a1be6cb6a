#include <stdint.h>
typedef struct apm apm;
#ifdef __cplusplus
extern "C" {
#endif
apm *apm_new(int denoise, int level, int target_dbfs, int gain_db, int hpf, int nslevel);
int apm_process(apm *a, int16_t *samples);
void apm_free(apm *a);
#ifdef __cplusplus
}
#endif
