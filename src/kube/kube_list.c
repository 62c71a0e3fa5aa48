/* kube_list.c: streaming LIST with limit/continue, one page in memory at a time; an expired continue
 * token (410) goes on from the inconsistent token the Status offers, or is reported (see kube.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"
#include "rekey/kube.h"
#include "rekey/log.h"

struct rk_kube_list {
	rk_kube *k;
	char *path;
	int limit;
	char *page_token; /* token that fetched the current page, NULL for the first */
	char *next_token; /* metadata.continue of the current page, "" on the last page */
	json_t *page;     /* current page */
	size_t index;     /* next item in the page */
	size_t pages;
	int inconsistent;
	int started;
};

static char *page_url(const rk_kube_list *l, const char *token)
{
	char *escaped = token && *token ? curl_easy_escape(NULL, token, 0) : NULL;
	char *url = NULL;
	const char *sep = strchr(l->path, '?') ? "&" : "?";
	int n = escaped ? asprintf(&url, "%s%slimit=%d&continue=%s", l->path, sep, l->limit, escaped)
	                : asprintf(&url, "%s%slimit=%d", l->path, sep, l->limit);
	curl_free(escaped);
	return n < 0 ? NULL : url;
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

static int take_page(rk_kube_list *l, json_t *page, rk_err *err)
{
	l->started = 1;
	json_t *items = json_object_get(page, "items");
	if (!json_is_array(items) && !json_is_null(items) && items) {
		json_decref(page);
		return rk_err_set(err, RK_FAIL, "list %s: the answer has no items array", l->path);
	}
	json_t *meta = json_object_get(page, "metadata");
	const char *next = json_string_value(json_object_get(meta, "continue"));
	set_str(&l->next_token, next ? next : "");
	json_decref(l->page);
	l->page = page;
	l->index = 0;
	l->pages++;
	return RK_OK;
}

/* 410 Expired: go on from the inconsistent continue token when the server gave one. */
static int handle_expired(rk_kube_list *l, rk_kube_resp *resp, const char **token, rk_err *err)
{
	if (!resp->status_continue) {
		*err = resp->err;
		rk_err_prefix(err,
		              "list %s: continue token expired and the server offered no inconsistent "
		              "continue token (not restarting)",
		              l->path);
		return err->code;
	}
	rk_warn(
	    "kube.list.expired",
	    "list %s: continue token expired (410); going on from the inconsistent continue token: objects "
	    "changed since the list started may appear in their newer state",
	    l->path);
	l->inconsistent = 1;
	set_str(&l->page_token, resp->status_continue);
	*token = l->page_token;
	return RK_OK;
}

static int fetch_page(rk_kube_list *l, const char *token, rk_err *err)
{
	for (int expired = 0; expired < 3; expired++) {
		char *url = page_url(l, token);
		if (!url)
			return rk_err_set(err, RK_FAIL, "out of memory");
		rk_kube_req req = {.method = "GET", .path = url};
		rk_kube_resp resp;
		int rc = rk_kube_request(l->k, &req, &resp);
		free(url);
		if (rc == RK_OK) {
			json_t *page = resp.json;
			resp.json = NULL;
			rk_kube_resp_free(&resp);
			if (!page)
				return rk_err_set(err, RK_FAIL, "list %s: the answer is not JSON", l->path);
			return take_page(l, page, err);
		}
		if (resp.http_status != 410 || !token) {
			*err = resp.err;
			rk_kube_resp_free(&resp);
			return err->code;
		}
		rc = handle_expired(l, &resp, &token, err);
		rk_kube_resp_free(&resp);
		if (rc != RK_OK)
			return rc;
	}
	return rk_err_set(err, RK_FAIL, "list %s: continue token expired three times in a row", l->path);
}

int rk_kube_list_open(rk_kube *k, const char *path, int limit, const char *start_continue, rk_kube_list **out,
                      rk_err *err)
{
	*out = NULL;
	if (limit <= 0)
		return rk_err_set(err, RK_BADINPUT, "list %s: limit must be positive", path);
	rk_kube_list *l = calloc(1, sizeof *l);
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	l->k = k;
	l->limit = limit;
	if (start_continue && *start_continue)
		l->page_token = strdup(start_continue);
	*out = l;
	return RK_OK;
}

int rk_kube_list_next(rk_kube_list *l, json_t **item, rk_err *err)
{
	*item = NULL;
	for (;;) {
		json_t *items = json_object_get(l->page, "items");
		if (l->page && l->index < json_array_size(items)) {
			*item = json_array_get(items, l->index++);
			return RK_OK;
		}
		if (l->started) {
			if (!l->next_token || !*l->next_token)
				return RK_OK; /* the end */
			set_str(&l->page_token, l->next_token);
		}
		l->started = 1;
		const char *token = l->page_token;
		int rc = fetch_page(l, token, err);
		if (rc != RK_OK)
			return rc;
	}
}

int kube_list_take_page(rk_kube_list *l, json_t *page, rk_err *err)
{
	return take_page(l, page, err);
}

const char *rk_kube_list_page_token(const rk_kube_list *l)
{
	return l->page_token;
}

int rk_kube_list_inconsistent(const rk_kube_list *l)
{
	return l->inconsistent;
}

size_t rk_kube_list_pages(const rk_kube_list *l)
{
	return l->pages;
}

void rk_kube_list_close(rk_kube_list *l)
{
	if (!l)
		return;
	json_decref(l->page);
	free(l->path);
	free(l->page_token);
	free(l->next_token);
	free(l);
}
