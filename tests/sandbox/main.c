/* main.c: rekey-sandbox's subcommand table (minimal until the lifecycle half lands). */
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "apiserver"))
		return sandbox_apiserver_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: rekey-sandbox apiserver --dir D --node N --port P --etcd URL "
	                "--encryption-provider-config PATH\n");
	return 2;
}
