#include "CParleyShims.h"

gulong CParleyShims_g_signal_connect(gpointer instance, const gchar *signal, GCallback handler, gpointer data) {
    return g_signal_connect(instance, signal, handler, data);
}

#include <libwebsockets.h>

size_t CParleyShims_lws_pre(void) {
    return LWS_PRE;
}
