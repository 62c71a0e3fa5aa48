/* main.c: runs every Check suite found in tests/unit/test_*.c (the list is generated into suites.h). */
#include <check.h>
#include <stdlib.h>

#include "rekey/init.h"

#define RK_SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef RK_SUITE

int main(void)
{
	rk_err err;
	if (rk_global_init(&err) != RK_OK) /* once, before any test starts a thread */
		return EXIT_FAILURE;
	SRunner *runner = srunner_create(NULL);
#define RK_SUITE(name) srunner_add_suite(runner, name##_suite());
#include "suites.h"
#undef RK_SUITE
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	rk_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
