/* cmd_version.c: `rekeyctl version`: prints the version (also `rekeyctl --version`). */
#include <stdio.h>

#include "commands_internal.h"
#include "rekey/err.h"

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("rekeyctl %s\n", REKEY_VERSION);
	return RK_OK;
}
