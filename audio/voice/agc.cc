#include <cstring>
#include <new>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>
#include "agc.h"

struct podium_agc {
	webrtc::AudioProcessing *ap;
	webrtc::AudioFrame frame;
};

extern "C" podium_agc *podium_agc_new(int target_level_dbfs, int compression_gain_db) {
	// The experimental AGC drives an analog microphone gain this program does not own.
	webrtc::Config config;
	config.Set<webrtc::ExperimentalAgc>(new webrtc::ExperimentalAgc(false));
	podium_agc *a = new (std::nothrow) podium_agc;
	if (!a) return nullptr;
	a->ap = webrtc::AudioProcessing::Create(config);
	if (!a->ap) {
		delete a;
		return nullptr;
	}
	webrtc::GainControl *gc = a->ap->gain_control();
	if (gc->set_mode(webrtc::GainControl::kAdaptiveDigital) ||
	    gc->set_target_level_dbfs(target_level_dbfs) ||
	    gc->set_compression_gain_db(compression_gain_db) ||
	    gc->enable_limiter(true) || gc->Enable(true)) {
		delete a->ap;
		delete a;
		return nullptr;
	}
	a->frame.sample_rate_hz_ = 48000;
	a->frame.num_channels_ = 1;
	a->frame.samples_per_channel_ = 480;
	return a;
}

extern "C" int podium_agc_process(podium_agc *a, int16_t *samples) {
	std::memcpy(a->frame.data_, samples, 480 * sizeof(int16_t));
	int err = a->ap->ProcessStream(&a->frame);
	if (err == webrtc::AudioProcessing::kNoError) {
		std::memcpy(samples, a->frame.data_, 480 * sizeof(int16_t));
	}
	return err;
}

extern "C" void podium_agc_free(podium_agc *a) {
	delete a->ap;
	delete a;
}
