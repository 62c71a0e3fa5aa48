/* protect.c: no core dumps, no same-user ptrace for a process that holds keys (see protect.h). */
#include "rekey/protect.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int rk_protect_process(rk_err *err)
{
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return rk_err_set(err, RK_FAIL, "cannot disable core dumps (RLIMIT_CORE): %s",
		                  strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return rk_err_set(err, RK_FAIL, "cannot make the process non-dumpable: %s", strerror(errno));
	return RK_OK;
}
