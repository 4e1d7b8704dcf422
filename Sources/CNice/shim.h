#ifndef PARLEY_CNICE_SHIM_H
#define PARLEY_CNICE_SHIM_H
#include <glib.h>
#include <glib-object.h>
#include <agent.h>
#endif
