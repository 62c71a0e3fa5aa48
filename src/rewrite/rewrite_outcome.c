/* rewrite_outcome.c: what happened to one object (from the PUT and the confirming GET), outcome totals,
 * the etcd key order of objects (to skip what a resumed run already did), the PUT body, the ETA, and the
 * option defaults and checks of the rewrite engine. */
#include <string.h>

#include "rewrite_internal.h"

const char *rk_outcome_name(rk_outcome o)
{
	static const char *const names[] = {"rewritten", "current", "conflict", "gone",
	                                    "orphan",    "failed",  "check"};
	return o <= RK_OUT_CHECK ? names[o] : "failed";
}

rk_outcome rk_outcome_of_put(long http_status, const char *old_rv, const char *new_rv)
{
	if (http_status >= 200 && http_status < 300) {
		if (!new_rv || !*new_rv)
			return RK_OUT_FAILED; /* a success without a resourceVersion: nothing proves the write
			                       */
		return old_rv && !strcmp(old_rv, new_rv) ? RK_OUT_CURRENT : RK_OUT_REWRITTEN;
	}
	if (http_status == 409)
		return RK_OUT_CONFLICT;
	if (http_status == 404)
		return RK_OUT_CHECK;
	return RK_OUT_FAILED;
}

int rk_rewrite_kms_failure(const char *message)
{
	static const char *const signs[] = {"encryptedDEKSource with keyID hash",
	                                    "got unexpected nil transformer", "failed to encrypt DEK",
	                                    "failed to decrypt DEK"};
	for (size_t i = 0; message && i < sizeof signs / sizeof signs[0]; i++)
		if (strstr(message, signs[i]))
			return 1;
	return 0;
}

int rk_rewrite_kms_final(const rk_kube_resp *attempt, int tries)
{
	return attempt->http_status >= 500 && rk_rewrite_kms_failure(attempt->message) &&
	       attempt->attempts >= tries;
}

rk_outcome rk_outcome_of_get(long http_status)
{
	if (http_status == 404)
		return RK_OUT_GONE;
	if (http_status >= 200 && http_status < 300)
		return RK_OUT_ORPHAN;
	return RK_OUT_FAILED; /* cannot tell: count it as failed, never as done */
}

/* The counter of outcome o (RK_OUT_CHECK and unknown values count as failed). */
static int64_t *counter(rk_counts *c, rk_outcome o)
{
	switch (o) {
	case RK_OUT_REWRITTEN:
		return &c->rewritten;
	case RK_OUT_CURRENT:
		return &c->current;
	case RK_OUT_CONFLICT:
		return &c->conflict;
	case RK_OUT_GONE:
		return &c->gone;
	case RK_OUT_ORPHAN:
		return &c->orphan;
	default:
		return &c->failed;
	}
}

void rk_counts_add(rk_counts *c, rk_outcome o)
{
	(*counter(c, o))++;
}

void rk_counts_move(rk_counts *c, rk_outcome from, rk_outcome to)
{
	int64_t *was = counter(c, from);
	if (*was > 0)
		(*was)--;
	(*counter(c, to))++;
}

int64_t rk_counts_sum(const rk_counts *c)
{
	return c->rewritten + c->current + c->conflict + c->gone + c->orphan + c->failed;
}

void rk_counts_merge(rk_counts *into, const rk_counts *from)
{
	into->rewritten += from->rewritten;
	into->current += from->current;
	into->conflict += from->conflict;
	into->gone += from->gone;
	into->orphan += from->orphan;
	into->failed += from->failed;
}

/* Byte i of "ns/name" (or of "name" when ns is empty, for cluster-scoped objects); -1 past the end. */
static int key_byte(const char *ns, size_t nslen, const char *name, size_t i)
{
	if (nslen) {
		if (i < nslen)
			return (unsigned char)ns[i];
		if (i == nslen)
			return '/';
		i -= nslen + 1;
	}
	return name[i] ? (unsigned char)name[i] : -1;
}

int rk_objkey_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
	size_t la = strlen(ns_a), lb = strlen(ns_b);
	for (size_t i = 0;; i++) {
		int x = key_byte(ns_a, la, name_a, i), y = key_byte(ns_b, lb, name_b, i);
		if (x != y)
			return x < y ? -1 : 1;
		if (x < 0)
			return 0;
	}
}

char *rk_rewrite_put_body(json_t *item, const char *api_version, const char *kind)
{
	json_t *copy = json_copy(item); /* shallow: only the top-level object gets the two new fields */
	if (!copy)
		return NULL;
	json_object_set_new(copy, "apiVersion", json_string(api_version));
	json_object_set_new(copy, "kind", json_string(kind));
	char *body = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return body;
}

double rk_eta_s(int64_t done, int64_t total, double rate)
{
	if (total < 0 || rate <= 0)
		return -1;
	if (done >= total)
		return 0;
	return (double)(total - done) / rate;
}

const char *rk_rw_budget_state_name(rk_rw_budget_state state)
{
	static const char *const names[] = {"ok", "slowed", "paused", "aborted"};
	return state <= RK_RW_ABORTED ? names[state] : "ok";
}

void rk_rewrite_opts_init(rk_rewrite_opts *opts)
{
	memset(opts, 0, sizeof *opts);
	rk_rewrite_settings_init(&opts->settings);
}

int rk_rewrite_opts_check(const rk_rewrite_opts *o, rk_err *err)
{
	if (o->cluster && !*o->cluster)
		return rk_err_set(err, RK_BADINPUT, "a cluster name must not be empty");
	return o->cluster ? rk_rw_check_scope(o, err)
	                  : rk_err_set(err, RK_BADINPUT, "a cluster name is required");
}

int rk_rw_check_scope(const rk_rewrite_opts *o, rk_err *err)
{
	if (rk_rewrite_settings_check(&o->settings, err) != RK_OK)
		return err->code;
	for (size_t i = 0; i < o->nresources; i++)
		if (!o->resources[i] || !*o->resources[i] || strlen(o->resources[i]) >= RK_STORE_NAME_MAX)
			return rk_err_set(err, RK_BADINPUT, "resource names must be non-empty and short");
	for (size_t i = 0; i < o->nnamespaces; i++)
		if (!o->namespaces[i] || !*o->namespaces[i] || strlen(o->namespaces[i]) >= RK_STORE_NAME_MAX)
			return rk_err_set(err, RK_BADINPUT, "namespace names must be non-empty and short");
	if (o->nendpoints && !o->endpoints)
		return rk_err_set(err, RK_BADINPUT, "%zu endpoints but no list", o->nendpoints);
	for (size_t i = 0; i < o->nendpoints; i++) {
		const char *u = o->endpoints[i];
		if (!u || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
		    strlen(u) >= sizeof((rk_rewrite_endpoint_stats *)0)->url)
			return rk_err_set(err, RK_BADINPUT,
			                  "endpoint \"%s\": not an http:// or https:// URL (or too long)",
			                  u ? u : "");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(u, o->endpoints[j]))
				return rk_err_set(err, RK_BADINPUT, "endpoint \"%s\" given twice", u);
	}
	return RK_OK;
}
