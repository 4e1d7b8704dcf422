#ifndef PARLEY_COPUS_SHIM_H
#define PARLEY_COPUS_SHIM_H
#include <opus.h>

/* opus_encoder_ctl is variadic, which Swift does not import: one typed wrapper per request. */
static inline int parley_opus_set_bitrate(OpusEncoder *encoder, opus_int32 bits_per_second) {
    return opus_encoder_ctl(encoder, OPUS_SET_BITRATE(bits_per_second));
}
static inline int parley_opus_get_bitrate(OpusEncoder *encoder, opus_int32 *bits_per_second) {
    return opus_encoder_ctl(encoder, OPUS_GET_BITRATE(bits_per_second));
}
static inline int parley_opus_set_inband_fec(OpusEncoder *encoder, int on) {
    return opus_encoder_ctl(encoder, OPUS_SET_INBAND_FEC(on));
}
static inline int parley_opus_set_packet_loss_percent(OpusEncoder *encoder, int percent) {
    return opus_encoder_ctl(encoder, OPUS_SET_PACKET_LOSS_PERC(percent));
}
#endif
