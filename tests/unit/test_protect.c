/* test_protect.c: rk_protect_process leaves the (forked test) process non-dumpable with a core size
 * limit of 0, soft and hard, and a child it starts inherits the limit. */
#include <check.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rekey/protect.h"

START_TEST(process_is_not_dumpable_and_dumps_no_core)
{
	struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_CORE, &unlimited); /* as root; otherwise the test starts from the current limit */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	rk_err err;
	ck_assert_int_eq(rk_protect_process(&err), RK_OK);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	struct rlimit core;
	ck_assert_int_eq(getrlimit(RLIMIT_CORE, &core), 0);
	ck_assert_uint_eq(core.rlim_cur, 0);
	ck_assert_uint_eq(core.rlim_max, 0);
	/* a hook or plugin it starts inherits it */
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit child;
		getrlimit(RLIMIT_CORE, &child);
		_exit(child.rlim_cur == 0 && child.rlim_max == 0 && setrlimit(RLIMIT_CORE, &unlimited) != 0
		          ? 0
		          : 1);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

Suite *protect_suite(void)
{
	Suite *s = suite_create("protect");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, process_is_not_dumpable_and_dumps_no_core);
	suite_add_tcase(s, tc);
	return s;
}
