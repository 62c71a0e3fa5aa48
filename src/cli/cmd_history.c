/* cmd_history.c: `rekeyctl history [--cluster NAME] [--state DIR] [-o json|table]`: every key's lifecycle
 * (fingerprints only) and the audit trail, from the state db. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands_internal.h"
#include "rekey/store.h"

struct history_out {
	int json;
	json_t *keys, *audit;
};

static int print_key_event(const rk_key_event *ev, void *ud)
{
	struct history_out *out = ud;
	if (out->json)
		json_array_append_new(out->keys,
		                      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "at", ev->at, "cluster",
		                                ev->cluster, "key", ev->key_name, "provider", ev->provider,
		                                "fingerprint", ev->fingerprint, "event", ev->event, "backup",
		                                ev->backup_path));
	else
		printf("%-24s %-12s %-34s %-10s %s %-12s %s\n", ev->at, ev->cluster, ev->key_name,
		       ev->provider, ev->fingerprint, ev->event, ev->backup_path);
	return 0;
}

static int print_audit(const rk_audit_event *ev, void *ud)
{
	struct history_out *out = ud;
	if (out->json)
		json_array_append_new(out->audit,
		                      json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s}", "at", ev->at, "user",
		                                ev->user, "host", ev->host, "cluster", ev->cluster, "run",
		                                (json_int_t)ev->run_id, "action", ev->action, "outcome",
		                                ev->outcome, "detail", ev->detail));
	else
		printf("%-24s %s@%s %-12s run %-4lld %-14s %-8s %s\n", ev->at, ev->user, ev->host,
		       ev->cluster, (long long)ev->run_id, ev->action, ev->outcome, ev->detail);
	return 0;
}

static int parse(int argc, char **argv, const char **cluster, const char **state, int *json)
{
	static const struct option longopts[] = {{"cluster", required_argument, NULL, 'c'},
	                                         {"state", required_argument, NULL, 's'},
	                                         {"output", required_argument, NULL, 'o'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c == 'c')
			*cluster = optarg;
		else if (c == 's')
			*state = optarg;
		else if (c == 'o' && (!strcmp(optarg, "json") || !strcmp(optarg, "table")))
			*json = !strcmp(optarg, "json");
		else if (c == 'h') {
			printf("usage: rekeyctl history [--cluster NAME] [--state DIR] [-o json|table]\n");
			return -1;
		} else {
			fprintf(stderr,
			        "usage: rekeyctl history [--cluster NAME] [--state DIR] [-o json|table]\n");
			return RK_BADINPUT;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rekeyctl history: unexpected argument \"%s\"\n", argv[optind]);
		return RK_BADINPUT;
	}
	return RK_OK;
}

int cmd_history(int argc, char **argv)
{
	const char *cluster = NULL, *state = NULL;
	struct history_out out = {0, NULL, NULL};
	int rc = parse(argc, argv, &cluster, &state, &out.json);
	if (rc != RK_OK)
		return rc < 0 ? RK_OK : rc;
	rk_store *store = NULL;
	rk_err err;
	rk_err_clear(&err);
	out.keys = json_array();
	out.audit = json_array();
	rc = rk_store_open(state, &store, &err);
	if (rc == RK_OK && !out.json)
		printf("KEYS\n");
	if (rc == RK_OK)
		rc = rk_store_key_event_list(store, cluster, print_key_event, &out, &err);
	if (rc == RK_OK && !out.json)
		printf("\nAUDIT\n");
	if (rc == RK_OK)
		rc = rk_store_audit_list(store, cluster, 0, print_audit, &out, &err);
	if (rc == RK_OK && out.json) {
		json_t *doc = json_pack("{s:O,s:O}", "keys", out.keys, "audit", out.audit);
		char *text = json_dumps(doc, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(doc);
	}
	json_decref(out.keys);
	json_decref(out.audit);
	rk_store_close(store);
	if (rc != RK_OK)
		fprintf(stderr, "rekeyctl history: %s\n", err.msg);
	return rc;
}
