/* fuzz_apijson.c: libFuzzer harness for what the API client reads from an apiserver: the first byte picks
 * an HTTP status, the rest is the body. The body goes through the response parser (JSON, Status reason /
 * message / inconsistent continue token / retryAfterSeconds, first line of a non-JSON error), and, when
 * it is a JSON object, through a list: taken as a page, every item read back with rk_kube_list_next and
 * turned into the rewrite's PUT body, names compared in etcd key order. No crash, no leak, no read past
 * the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/kube/kube_internal.h"
#include "../../src/rewrite/rewrite_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 201, 404, 409, 410, 429, 500, 503};

static void parse_response(long status, const uint8_t *body, size_t len)
{
	rk_kube_resp r;
	memset(&r, 0, sizeof r);
	r.http_status = status;
	r.retry_after_s = -1;
	if (rk_buf_append(&r.body, body, len) != 0)
		return;
	kube_resp_parse(&r);
	if (r.message && strlen(r.message) > len)
		abort();
	rk_kube_resp_free(&r);
}

static const char *meta_str(json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static void walk_items(rk_kube_list *l, size_t n)
{
	const char *prev_ns = "", *prev_name = "";
	for (size_t i = 0; i < n; i++) {
		json_t *item = NULL;
		rk_err err;
		if (rk_kube_list_next(l, &item, &err) != RK_OK || !item)
			abort(); /* the page holds n items */
		char *body = rk_rewrite_put_body(item, "v1", "Secret");
		free(body);
		const char *ns = meta_str(item, "namespace"), *name = meta_str(item, "name");
		if (name) {
			rk_objkey_cmp(ns ? ns : "", name, prev_ns, prev_name);
			prev_ns = ns ? ns : "";
			prev_name = name;
		}
	}
}

static void take_as_page(const uint8_t *body, size_t len)
{
	json_error_t jerr;
	json_t *page = json_loadb((const char *)body, len, 0, &jerr);
	if (!json_is_object(page)) {
		json_decref(page);
		return;
	}
	rk_kube_list *l = NULL;
	rk_err err;
	if (rk_kube_list_open(NULL, "/api/v1/secrets", 500, NULL, &l, &err) != RK_OK)
		abort();
	json_t *items = json_object_get(page, "items");
	size_t n = json_is_array(items) ? json_array_size(items) : 0;
	if (kube_list_take_page(l, page, &err) == RK_OK) {
		walk_items(l, n);
		rk_kube_list_page_token(l);
		rk_kube_list_inconsistent(l);
	}
	rk_kube_list_close(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	parse_response(statuses[data[0] % (sizeof statuses / sizeof statuses[0])], data + 1, size - 1);
	take_as_page(data + 1, size - 1);
	return 0;
}
