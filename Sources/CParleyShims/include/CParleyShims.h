#ifndef CPARLEY_SHIMS_H
#define CPARLEY_SHIMS_H

/* C glue for what Swift cannot import directly (macros, variadic functions).
 * Every function is prefixed CParleyShims_. */

#include <glib-object.h>

/* g_signal_connect is a macro; this is the same call as a function. */
gulong CParleyShims_g_signal_connect(gpointer instance, const gchar *signal, GCallback handler, gpointer data);

#endif
