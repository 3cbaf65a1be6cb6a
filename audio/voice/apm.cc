// A C face for WebRTC's audio processing module (C++), for cgo.
#include <cstring>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>
#include "apm.h"

struct apm {
	webrtc::AudioProcessing *ap;
	webrtc::AudioFrame frame;
};

extern "C" apm *apm_new(int denoise, int level, int target_dbfs, int gain_db, int hpf, int nslevel) {
	webrtc::Config config;
	config.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
	apm *a = new apm;
	a->ap = webrtc::AudioProcessing::Create(config);
	if (!a->ap) {
		delete a;
		return nullptr;
	}
	int err = 0;
	err |= a->ap->high_pass_filter()->Enable(hpf != 0);
	err |= a->ap->noise_suppression()->set_level((webrtc::NoiseSuppression::Level)nslevel);
	err |= a->ap->noise_suppression()->Enable(denoise != 0);
	err |= a->ap->gain_control()->set_mode(gain_db < 0 ? webrtc::GainControl::kFixedDigital : webrtc::GainControl::kAdaptiveDigital);
	err |= a->ap->gain_control()->set_target_level_dbfs(target_dbfs);
	err |= a->ap->gain_control()->set_compression_gain_db(gain_db < 0 ? 0 : gain_db);
	err |= a->ap->gain_control()->enable_limiter(gain_db >= 0);
	err |= a->ap->gain_control()->Enable(level != 0);
	if (err) {
		delete a->ap;
		delete a;
		return nullptr;
	}
	a->frame.sample_rate_hz_ = 48000;
	a->frame.num_channels_ = 1;
	a->frame.samples_per_channel_ = 480;
	return a;
}

extern "C" int apm_process(apm *a, int16_t *samples) {
	std::memcpy(a->frame.data_, samples, 480 * sizeof(int16_t));
	int err = a->ap->ProcessStream(&a->frame);
	if (err == 0) {
		std::memcpy(samples, a->frame.data_, 480 * sizeof(int16_t));
	}
	return err;
}

extern "C" void apm_free(apm *a) {
	delete a->ap;
	delete a;
}
