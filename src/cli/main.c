/* main.c: rekeyctl's command table: finds the command named by argv[1] and runs it. */
#include <stdio.h>
#include <string.h>

#include "commands_internal.h"
#include "rekey/err.h"
#include "rekey/init.h"
#include "rekey/protect.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"plan", cmd_rotate, "preflight and the stages a rotation would run (changes nothing)"},
    {"rotate", cmd_rotate, "rotate the key: canary rollout with gates, promote, rewrite, verify, prune"},
    {"resume", cmd_rotate, "continue an interrupted rotation exactly where it stopped"},
    {"abort", cmd_rotate, "end an unfinished rotation, leaving configs as they are"},
    {"rollback", cmd_rotate, "undo an unfinished rotation (refused once pruning started)"},
    {"fleet", cmd_fleet, "rotate many clusters in waves: canary cluster first (rotate|resume|status)"},
    {"due", cmd_due, "which clusters' write keys are older than the policy (exit 1 when some are)"},
    {"break-glass", cmd_rotate, "KMS down: write the plan's pre-agreed emergency config (--reason)"},
    {"doctor", cmd_doctor, "triage: apiservers, KMS plugins, config and key_id agreement (changes nothing)"},
    {"history", cmd_history, "key lifecycle and audit records"},
    {"rewrite", cmd_rewrite, "rewrite every object so it is stored under the current write key"},
    {"status", cmd_status, "a rotation's or rewrite's progress from the state db (--watch)"},
    {"config", cmd_config, "offline EncryptionConfiguration work: validate|show|hash|add-key|promote|prune"},
    {"keygen", cmd_keygen, "generate a key into a new 0600 file"},
    {"verify", cmd_verify, "what is stored under which key (live etcd or a snapshot)"},
    {"kube", cmd_kube, "debug the API client: get, list, raw, resource, readyz, repeat"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: rekeyctl COMMAND [ARGS]   (rekeyctl COMMAND --help for details)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  %-11s %s\n", "version", "print the version (also --version)");
	fprintf(out, "\nexit codes: 0 done, 1 failed, 2 bad usage or input, 3 stopped (resumable), 4 refused "
	             "as unsafe\n");
}

/* `rekeyctl version [--help]`, `rekeyctl --version`. */
static int version(int argc, char **argv)
{
	if (argc == 2) {
		printf("rekeyctl %s\n", REKEY_VERSION);
		return RK_OK;
	}
	int help = argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
	if (!help)
		fprintf(stderr, "rekeyctl %s: unexpected argument \"%s\"\n", argv[1], argv[2]);
	fputs("usage: rekeyctl version   (or rekeyctl --version)\nPrints \"rekeyctl VERSION\".\n",
	      help ? stdout : stderr);
	return help ? RK_OK : RK_BADINPUT;
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
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return version(argc, argv);
	rk_err err;
	if (rk_protect_process(&err) != RK_OK) { /* before any command can load a key or a credential */
		fprintf(stderr, "rekeyctl: %s\n", err.msg);
		return RK_FAIL;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (rk_global_init(&err) != RK_OK) {
			fprintf(stderr, "rekeyctl: %s\n", err.msg);
			return err.code;
		}
		int rc = commands[i].run(argc - 1, argv + 1);
		rk_global_cleanup();
		return rc;
	}
	fprintf(stderr, "rekeyctl: unknown command \"%s\" (rekeyctl --help lists them)\n", argv[1]);
	return RK_BADINPUT;
}
