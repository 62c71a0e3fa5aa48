/* init.h: librekey's process-wide setup, done once at the start of main() before any thread starts:
 * libcurl's global state (curl_global_init is not thread-safe, so no library call may do it lazily; the
 * rotation's lease thread creates API clients of its own). Every program that links librekey calls it. */
#ifndef REKEY_INIT_H
#define REKEY_INIT_H

#include "rekey/err.h"

int rk_global_init(rk_err *err);
void rk_global_cleanup(void);

#endif
