/* protect.h: keeping key material out of core dumps and other processes' reach while a command runs:
 * the process is made non-dumpable (no core file; other processes of the same user can neither
 * ptrace it nor read /proc/PID/mem or environ) and its core size limit set to 0, soft and hard (the
 * limit is inherited by the hooks and plugins it starts). */
#ifndef REKEY_PROTECT_H
#define REKEY_PROTECT_H

#include "rekey/err.h"

/* RK_FAIL when either cannot be set (the caller should not go on to load keys). */
int rk_protect_process(rk_err *err);

#endif
