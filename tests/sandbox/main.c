/* main.c: rekey-sandbox's subcommand table: a Kubernetes-compatible control plane for tests and the
 * demo (etcd + N apiserver processes + a kubelet emulation). See tests/sandbox/README.md. */
#include <stdio.h>
#include <string.h>

#include "rekey/init.h"
#include "sandbox.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"up", sbx_up_main, "start etcd, PKI, nodes, kubelet and apiservers; seed objects"},
    {"down", sbx_down_main, "stop every process of a sandbox"},
    {"status", sbx_status_main, "processes, URLs, readiness and config hash per node"},
    {"fault", sbx_fault_main, "inject or clear faults on a node's apiserver, or kill it"},
    {"seed", sbx_seed_main, "add secrets/configmaps straight through etcd"},
    {"bench-put", sbx_bench_put_main, "measure unconditional PUT throughput"},
    {"kubelet", sbx_kubelet_main, "the kubelet emulation (started by up)"},
    {"apiserver", sandbox_apiserver_main, "one apiserver process (started by the kubelet)"},
    {"etcd-proxy", sbx_etcd_proxy_main, "the delaying proxy in front of etcd (started by up --real)"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: rekey-sandbox SUBCOMMAND [ARGS]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return RK_BADINPUT;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return RK_OK;
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
		if (strcmp(argv[1], subcommands[i].name))
			continue;
		rk_err err;
		if (rk_global_init(&err) != RK_OK) {
			fprintf(stderr, "rekey-sandbox: %s\n", err.msg);
			return err.code;
		}
		int rc = subcommands[i].run(argc - 1, argv + 1);
		rk_global_cleanup();
		return rc;
	}
	fprintf(stderr, "rekey-sandbox: unknown subcommand \"%s\" (rekey-sandbox --help lists them)\n",
	        argv[1]);
	return RK_BADINPUT;
}
