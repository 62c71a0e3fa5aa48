/* kube_list.c: streaming LIST with limit/continue: the page being consumed plus the next one, whose GET
 * goes out as soon as a page becomes current (so a caller writing the objects of one page never waits for
 * the next); an expired continue token (410) goes on from the inconsistent token the Status offers, or is
 * reported (see kube.h). */
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
	/* the next page, fetched while the current one is consumed */
	int fetching;      /* its GET is in flight */
	char *fetch_token; /* the token it was asked with (NULL: the first page) */
	json_t *fetched;   /* arrived, not yet current */
	int fetch_failed;
	int expired; /* 410s in a row for this page */
	rk_err fetch_err;
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
	char *copy = value ? strdup(value) : NULL;
	free(*slot);
	*slot = copy;
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

static void fetch_fail(rk_kube_list *l, const rk_err *why)
{
	l->fetch_err = *why;
	l->fetch_failed = 1;
}

static int start_fetch(rk_kube_list *l, rk_err *err);

/* 410 Expired: go on from the inconsistent continue token when the server gave one. */
static int handle_expired(rk_kube_list *l, rk_kube_resp *resp, rk_err *err)
{
	if (!resp->status_continue) {
		*err = resp->err;
		rk_err_prefix(err,
		              "list %s: continue token expired and the server offered no inconsistent "
		              "continue token (not restarting)",
		              l->path);
		return err->code;
	}
	if (++l->expired >= 3)
		return rk_err_set(err, RK_FAIL, "list %s: continue token expired three times in a row",
		                  l->path);
	rk_warn(
	    "kube.list.expired",
	    "list %s: continue token expired (410); going on from the inconsistent continue token: objects "
	    "changed since the list started may appear in their newer state",
	    l->path);
	l->inconsistent = 1;
	set_str(&l->fetch_token, resp->status_continue);
	return start_fetch(l, err);
}

static void fetch_done(void *user, rk_kube_resp *resp)
{
	rk_kube_list *l = user;
	l->fetching = 0;
	rk_err err;
	rk_err_clear(&err);
	if (resp->err.code == RK_OK) {
		l->expired = 0;
		if (!resp->json)
			rk_err_set(&err, RK_FAIL, "list %s: the answer is not JSON", l->path);
		else
			l->fetched = json_incref(resp->json);
	} else if (resp->http_status != 410 || !l->fetch_token) {
		err = resp->err;
	} else {
		handle_expired(l, resp, &err);
	}
	if (err.code != RK_OK)
		fetch_fail(l, &err);
}

/* Sends the GET of the page of l->fetch_token; the answer arrives in fetch_done. */
static int start_fetch(rk_kube_list *l, rk_err *err)
{
	char *url = page_url(l, l->fetch_token);
	if (!url)
		return rk_err_set(err, RK_FAIL, "out of memory");
	rk_kube_req req = {.method = "GET", .path = url};
	int rc = rk_kube_submit(l->k, &req, fetch_done, l, err);
	free(url);
	if (rc == RK_OK)
		l->fetching = 1;
	return rc;
}

/* The fetched page becomes the current one, and the GET of the one after it goes out at once. */
static int take_fetched(rk_kube_list *l, rk_err *err)
{
	json_t *page = l->fetched;
	l->fetched = NULL;
	free(l->page_token);
	l->page_token = l->fetch_token;
	l->fetch_token = NULL;
	if (take_page(l, page, err) != RK_OK)
		return err->code;
	if (!*l->next_token)
		return RK_OK;
	rk_err ferr;
	rk_err_clear(&ferr);
	set_str(&l->fetch_token, l->next_token);
	if (!l->fetch_token)
		rk_err_set(&ferr, RK_FAIL, "out of memory");
	else
		start_fetch(l, &ferr);
	if (ferr.code != RK_OK)
		fetch_fail(l, &ferr); /* reported when the caller gets to that page */
	return RK_OK;
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
		l->fetch_token = strdup(start_continue);
	*out = l;
	return RK_OK;
}

int rk_kube_list_next_nowait(rk_kube_list *l, json_t **item, int *ready, rk_err *err)
{
	*item = NULL;
	*ready = 0;
	for (;;) {
		json_t *items = json_object_get(l->page, "items");
		if (l->page && l->index < json_array_size(items)) {
			*item = json_array_get(items, l->index++);
			*ready = 1;
			return RK_OK;
		}
		if (!l->started) {
			l->started = 1;
			if (start_fetch(l, err) != RK_OK)
				return err->code;
		}
		if (l->fetch_failed) {
			l->fetch_failed = 0;
			*err = l->fetch_err;
			return err->code;
		}
		if (l->fetched) {
			if (take_fetched(l, err) != RK_OK)
				return err->code;
			continue;
		}
		*ready = !l->fetching; /* nothing in flight and nothing left: the end */
		return RK_OK;
	}
}

int rk_kube_list_next(rk_kube_list *l, json_t **item, rk_err *err)
{
	int ready = 0;
	for (;;) {
		int rc = rk_kube_list_next_nowait(l, item, &ready, err);
		if (rc != RK_OK || ready)
			return rc;
		rk_kube_poll(l->k, 100);
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
	while (l->fetching) /* its callback points at l */
		rk_kube_poll(l->k, 100);
	json_decref(l->fetched);
	free(l->fetch_token);
	json_decref(l->page);
	free(l->path);
	free(l->page_token);
	free(l->next_token);
	free(l);
}
