/* cmd_history.c: `rekeyctl history [--cluster NAME] [--state DIR] [-o json|table]`: every key's lifecycle
 * (fingerprints only) and the audit trail, from the state db. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args_internal.h"
#include "commands_internal.h"
#include "rekey/buf.h"
#include "rekey/store.h"

struct history_out {
	int json;
	json_t *keys, *audit;          /* -o json */
	rk_buf key_lines, audit_lines; /* table */
};

/* kms providers (no local key) show "-" for the fingerprint and "key_id ID" when it was known. */
static int print_key_event(const rk_key_event *ev, void *ud)
{
	struct history_out *out = ud;
	if (out->json)
		json_array_append_new(out->keys,
		                      json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "at", ev->at, "cluster",
		                                ev->cluster, "key", ev->key_name, "provider", ev->provider,
		                                "fingerprint", ev->fingerprint, "event", ev->event, "backup",
		                                ev->backup_path, "key_id",
		                                ev->key_id[0] ? json_string(ev->key_id) : json_null()));
	else
		rk_buf_printf(&out->key_lines, "%-24s %-12s %-34s %-10s %-16s %-12s %s%s%s\n", ev->at,
		              ev->cluster, ev->key_name, ev->provider,
		              ev->fingerprint[0] ? ev->fingerprint : "-", ev->event, ev->backup_path,
		              ev->key_id[0] ? "key_id " : "", ev->key_id);
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
		rk_buf_printf(&out->audit_lines, "%-24s %s@%s %-12s run %-4lld %-14s %-8s %s\n", ev->at,
		              ev->user, ev->host, ev->cluster, (long long)ev->run_id, ev->action, ev->outcome,
		              ev->detail);
	return 0;
}

static const char usage_text[] =
    "usage: rekeyctl history [--cluster NAME] [--state DIR] [-o json|table]\n"
    "Every key's lifecycle (generated, backed-up, promoted, pruned, archived; fingerprints, for a kms\n"
    "provider its KMS key_id; never key bytes) and the audit records (who ran what, when, with what\n"
    "outcome) from the state db.\n";

struct history_args {
	const char *cluster, *state;
	int json;
};

static const struct option long_options[] = {{"cluster", required_argument, NULL, 'c'},
                                             {"state", required_argument, NULL, 's'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};

static int take(void *ud, int opt, const char *flag, const char *v)
{
	struct history_args *a = ud;
	(void)flag;
	switch (opt) {
	case 'c':
		a->cluster = v;
		return 0;
	case 's':
		a->state = v;
		return 0;
	case 'o':
		return args_output("history", v, NULL, &a->json);
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	}
	return -1;
}

static void print_history(const struct history_out *out)
{
	if (!out->json) {
		printf("KEYS\n%s\nAUDIT\n%s", rk_buf_cstr(&out->key_lines), rk_buf_cstr(&out->audit_lines));
		return;
	}
	json_t *doc = json_pack("{s:O,s:O}", "keys", out->keys, "audit", out->audit);
	char *text = json_dumps(doc, JSON_INDENT(2));
	printf("%s\n", text);
	free(text);
	json_decref(doc);
}

int cmd_history(int argc, char **argv)
{
	struct history_args a = {0};
	int rc = args_parse_flags_only("history", argc, argv, "o:h", long_options, take, &a);
	if (rc != RK_OK)
		return rc == 1 ? RK_OK : rc;
	struct history_out out = {a.json, json_array(), json_array(), RK_BUF_INIT, RK_BUF_INIT};
	rk_err err;
	rk_err_clear(&err);
	rc = rk_store_history(a.state, a.cluster, print_key_event, print_audit, &out, &err);
	if (rc == RK_OK)
		print_history(&out);
	else
		fprintf(stderr, "rekeyctl history: %s\n", err.msg);
	json_decref(out.keys);
	json_decref(out.audit);
	rk_buf_free(&out.key_lines);
	rk_buf_free(&out.audit_lines);
	return rc;
}
