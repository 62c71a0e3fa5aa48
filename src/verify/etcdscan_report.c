/* etcdscan_report.c: a scan report as a JSON document or an aligned table. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/etcdscan.h"

static json_t *row_json(const rk_scan_row *row)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:b}", "resource", row->resource, "provider", row->provider,
	                      "count", (json_int_t)row->count, "expected", row->expected);
	if (row->key[0])
		json_object_set_new(o, "key", json_string(row->key));
	if (row->key_id[0])
		json_object_set_new(o, "keyID", json_string(row->key_id));
	if (row->decrypt_failed)
		json_object_set_new(o, "decryptFailed", json_integer((json_int_t)row->decrypt_failed));
	return o;
}

static json_t *item_json(const rk_scan_item *it)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "etcdKey", it->etcd_key, "resource", it->resource,
	                      "provider", it->provider, "reason", it->reason);
	if (it->key[0])
		json_object_set_new(o, "key", json_string(it->key));
	return o;
}

/* Totals per (provider, key) across resources: which keys the stored data still needs. */
static json_t *keys_json(const rk_scan_report *r)
{
	json_t *keys = json_array();
	for (size_t i = 0; i < r->nrows; i++) {
		const rk_scan_row *row = &r->rows[i];
		size_t j = 0;
		while (j < i &&
		       (strcmp(r->rows[j].provider, row->provider) || strcmp(r->rows[j].key, row->key)))
			j++;
		if (j < i)
			continue; /* counted with its first row */
		uint64_t count = 0;
		for (size_t k = i; k < r->nrows; k++)
			if (!strcmp(r->rows[k].provider, row->provider) && !strcmp(r->rows[k].key, row->key))
				count += r->rows[k].count;
		json_t *o = json_pack("{s:s, s:I}", "provider", row->provider, "count", (json_int_t)count);
		if (row->key[0])
			json_object_set_new(o, "key", json_string(row->key));
		json_array_append_new(keys, o);
	}
	return keys;
}

/* The keys the values need and where the archive stands on each (check_archive). */
static json_t *archive_json(const rk_scan_report *r)
{
	json_t *keys = json_array();
	for (size_t i = 0; i < r->nneeded; i++) {
		const rk_needed_key *n = &r->needed[i];
		json_t *o = json_pack("{s:s, s:s, s:I}", "provider", n->provider, "key", n->key, "count",
		                      (json_int_t)n->count);
		if (n->key_id[0])
			json_object_set_new(o, "keyID", json_string(n->key_id));
		json_object_set_new(o, "archived", n->archived < 0 ? json_null() : json_boolean(n->archived));
		if (n->archived > 0) {
			json_object_set_new(o, "fingerprint", json_string(n->fingerprint));
			json_object_set_new(o, "path", json_string(n->path));
		}
		if (n->archived < 0)
			json_object_set_new(o, "note", json_string("the key lives in the KMS"));
		else if (n->note[0])
			json_object_set_new(o, "note", json_string(n->note));
		json_array_append_new(keys, o);
	}
	return json_pack("{s:s, s:o}", "dir", r->archive_dir, "keys", keys);
}

int rk_scan_report_json(const rk_scan_report *r, rk_buf *out)
{
	json_t *rows = json_array(), *items = json_array();
	for (size_t i = 0; i < r->nrows; i++)
		json_array_append_new(rows, row_json(&r->rows[i]));
	for (size_t i = 0; i < r->nitems; i++)
		json_array_append_new(items, item_json(&r->items[i]));
	json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:o, s:o, s:b}", "source",
	                        r->source, "prefix", r->prefix, "total", (json_int_t)r->total, "unexpected",
	                        (json_int_t)r->unexpected, "malformed", (json_int_t)r->malformed,
	                        "decryptChecked", (json_int_t)r->decrypt_checked, "decryptFailed",
	                        (json_int_t)r->decrypt_failed, "expectation", r->has_expectation, "verdict",
	                        rk_scan_verdict(r) == 0 ? "ok" : "mismatch", "counts", rows,
	                        "unexpectedObjects", items, "truncated", r->truncated);
	if (r->revision)
		json_object_set_new(doc, "revision", json_integer((json_int_t)r->revision));
	if (r->revision_moved)
		json_object_set_new(doc, "revisionMovedTo", json_integer((json_int_t)r->revision_moved));
	if (r->api[0])
		json_object_set_new(doc, "api", json_string(r->api));
	json_object_set_new(doc, "forbidden", json_integer((json_int_t)r->forbidden));
	json_object_set_new(doc, "keys", keys_json(r));
	if (r->archive_checked)
		json_object_set_new(doc, "archive", archive_json(r));
	char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	json_decref(doc);
	if (!text)
		return -1;
	int rc = rk_buf_append_str(out, text) || rk_buf_append_str(out, "\n");
	free(text);
	return rc;
}

static int width(size_t cur, const char *s)
{
	size_t n = strlen(s);
	return (int)(n > cur ? n : cur);
}

static int keys_line(const rk_scan_report *r, rk_buf *out)
{
	json_t *keys = keys_json(r);
	size_t n = json_array_size(keys), i;
	json_t *k;
	int rc = rk_buf_append_str(out, "\nkeys in use:");
	json_array_foreach(keys, i, k)
	{
		const char *name = json_string_value(json_object_get(k, "key"));
		if (!rc)
			rc = rk_buf_printf(out, "%s %s%s%s (%lld)", i ? "," : "",
			                   json_string_value(json_object_get(k, "provider")), name ? " " : "",
			                   name ? name : "",
			                   (long long)json_integer_value(json_object_get(k, "count")));
	}
	json_decref(keys);
	return rc ? rc : rk_buf_append_str(out, n ? "\n" : " none\n");
}

static int rows_table(const rk_scan_report *r, rk_buf *out)
{
	int wr = 8, wp = 8, wk = 3;
	for (size_t i = 0; i < r->nrows; i++) {
		wr = width((size_t)wr, r->rows[i].resource);
		wp = width((size_t)wp, r->rows[i].provider);
		wk = width((size_t)wk, r->rows[i].key[0] ? r->rows[i].key : "-");
	}
	int rc = rk_buf_printf(out, "%-*s  %-*s  %-*s  %8s  %-8s  %s\n", wr, "RESOURCE", wp, "PROVIDER", wk,
	                       "KEY", "COUNT", "EXPECTED", "KEYID");
	for (size_t i = 0; i < r->nrows && !rc; i++) {
		const rk_scan_row *row = &r->rows[i];
		const char *expected = !r->has_expectation && row->expected ? "-"
		                       : row->expected                      ? "yes"
		                                                            : "NO";
		rc = rk_buf_printf(out, "%-*s  %-*s  %-*s  %8llu  %-8s  %s%s\n", wr, row->resource, wp,
		                   row->provider, wk, row->key[0] ? row->key : "-",
		                   (unsigned long long)row->count, expected,
		                   row->key_id[0] ? row->key_id : "-",
		                   row->decrypt_failed ? "  (some values do not decrypt)" : "");
	}
	return rc;
}

static int archive_table(const rk_scan_report *r, rk_buf *out)
{
	int rc = rk_buf_printf(out, "\nkeys these values need (key archive %s):\n", r->archive_dir);
	if (!rc && !r->nneeded)
		rc = rk_buf_append_str(out, "  none (no value is encrypted)\n");
	for (size_t i = 0; i < r->nneeded && !rc; i++) {
		const rk_needed_key *n = &r->needed[i];
		rc = rk_buf_printf(out, "  %s %s%s%s (%llu values): ", n->provider, n->key,
		                   n->key_id[0] ? " keyID " : "", n->key_id, (unsigned long long)n->count);
		if (!rc && n->archived > 0)
			rc = rk_buf_printf(out, "archived, fingerprint %s (%s)\n", n->fingerprint, n->path);
		else if (!rc && n->archived < 0)
			rc = rk_buf_append_str(out, "kept by the KMS, not archived by rekeyctl\n");
		else if (!rc)
			rc = rk_buf_printf(out, "NOT archived: %s\n", n->note);
	}
	return rc;
}

int rk_scan_report_table(const rk_scan_report *r, rk_buf *out)
{
	int rc = rows_table(r, out);
	if (!rc)
		rc = keys_line(r, out);
	if (!rc && r->archive_checked)
		rc = archive_table(r, out);
	if (!rc && r->nitems) {
		rc = rk_buf_printf(out, "\nunexpected objects%s:\n",
		                   r->truncated ? " (the first ones; --limit 0 or -o json lists all)" : "");
		for (size_t i = 0; i < r->nitems && !rc; i++)
			rc = rk_buf_printf(out, "  %s: %s\n", r->items[i].etcd_key, r->items[i].reason);
	}
	if (!rc)
		rc = rk_buf_printf(
		    out,
		    "\n%llu values scanned, %llu unexpected, %llu malformed, %llu of %llu decrypt checks "
		    "failed, %llu under the forbidden key: %s\n",
		    (unsigned long long)r->total, (unsigned long long)r->unexpected,
		    (unsigned long long)r->malformed, (unsigned long long)r->decrypt_failed,
		    (unsigned long long)r->decrypt_checked, (unsigned long long)r->forbidden,
		    rk_scan_verdict(r) == 0 ? "OK" : "MISMATCH");
	return rc;
}
