/* bench_put.c: `rekey-sandbox bench-put --dir D`: the PUT ceiling. Sends unconditional PUTs (no
 * resourceVersion) of seeded secrets with C concurrent keep-alive connections (libcurl multi,
 * TCP_NODELAY) spread over the sandbox's apiservers (or sent to one, --node NAME) for a duration, and
 * prints the rate and latency percentiles (text, or one JSON line with -o json). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/buf.h"
#include "sandbox.h"

typedef struct bench_opts {
	const char *dir, *output, *node; /* node NULL: every apiserver */
	long connections, secrets, namespaces;
	double duration;
} bench_opts;

typedef struct bench_conn {
	CURL *curl;
	rk_buf body, resp;
	char url[512];
	struct curl_slist *headers;
} bench_conn;

typedef struct bench_run {
	const bench_opts *opts;
	const lc_info *info;
	long sent, ok, failed, next_object;
	long status_counts[600];
	char first_error[256];
	double *latencies;
	size_t nlat, caplat;
} bench_run;

static size_t discard(char *data, size_t size, size_t n, void *userp)
{
	rk_buf *b = userp;
	if (b->len < 4096)
		rk_buf_append(b, data, size * n);
	return size * n;
}

/* Points the connection's handle at the next secret, with a fresh body. */
static void next_request(bench_run *r, bench_conn *c, size_t conn_index)
{
	long i = r->next_object++ % r->opts->secrets;
	char ns[32], name[64];
	snprintf(ns, sizeof ns, "ns-%ld", i % r->opts->namespaces + 1);
	snprintf(name, sizeof name, "secret-%06ld", i);
	const lc_node *node = r->opts->node ? lc_info_node(r->info, r->opts->node)
	                                    : &r->info->nodes[conn_index % r->info->nnodes];
	snprintf(c->url, sizeof c->url, "%s/api/v1/namespaces/%s/secrets/%s", node->url, ns, name);
	rk_buf_reset(&c->body);
	rk_buf_reset(&c->resp);
	rk_buf_printf(
	    &c->body,
	    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"},"
	    "\"data\":{\"data\":\"YmVuY2gtcHV0LQ==\",\"n\":\"%08lx\"},\"type\":\"Opaque\"}",
	    name, ns, r->sent);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)c->body.data);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)c->body.len);
	r->sent++;
}

static void conn_init(bench_run *r, bench_conn *c)
{
	c->curl = curl_easy_init();
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Accept: application/json");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
	lc_curl_tls(c->curl, r->info->dir);
}

static void record(bench_run *r, bench_conn *c, CURLcode cc)
{
	long status = 0;
	curl_off_t micros = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME_T, &micros);
	if (cc == CURLE_OK && status == 200) {
		r->ok++;
	} else {
		if (r->failed++ == 0)
			snprintf(r->first_error, sizeof r->first_error, "%s (HTTP %ld) %.120s",
			         curl_easy_strerror(cc), status, rk_buf_cstr(&c->resp));
	}
	if (status > 0 && status < 600)
		r->status_counts[status]++;
	if (r->nlat == r->caplat)
		r->latencies =
		    realloc(r->latencies, (r->caplat = r->caplat ? r->caplat * 2 : 4096) * sizeof(double));
	r->latencies[r->nlat++] = (double)micros / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile(bench_run *r, double p)
{
	if (r->nlat == 0)
		return 0;
	size_t idx = (size_t)(p * (double)(r->nlat - 1));
	return r->latencies[idx];
}

static double bench_loop(bench_run *r)
{
	size_t n = (size_t)r->opts->connections;
	bench_conn *conns = calloc(n, sizeof *conns);
	CURLM *multi = curl_multi_init();
	for (size_t i = 0; i < n; i++) {
		conn_init(r, &conns[i]);
		next_request(r, &conns[i], i);
		curl_multi_add_handle(multi, conns[i].curl);
	}
	double t0 = lc_now(), deadline = t0 + r->opts->duration;
	int running = (int)n;
	while (running > 0) {
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *done = msg->easy_handle;
			CURLcode cc = msg->data.result;
			for (size_t i = 0; i < n; i++) {
				if (conns[i].curl != done)
					continue;
				record(r, &conns[i], cc);
				curl_multi_remove_handle(multi, conns[i].curl);
				if (lc_now() < deadline) {
					next_request(r, &conns[i], i);
					curl_multi_add_handle(multi, conns[i].curl);
					running++;
				}
			}
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 50, NULL);
	}
	double elapsed = lc_now() - t0;
	for (size_t i = 0; i < n; i++) {
		curl_easy_cleanup(conns[i].curl);
		curl_slist_free_all(conns[i].headers);
		rk_buf_free(&conns[i].body);
		rk_buf_free(&conns[i].resp);
	}
	curl_multi_cleanup(multi);
	free(conns);
	return elapsed;
}

static void report(bench_run *r, double elapsed)
{
	qsort(r->latencies, r->nlat, sizeof(double), cmp_double);
	double rate = elapsed > 0 ? (double)r->ok / elapsed : 0;
	rk_buf codes = RK_BUF_INIT;
	for (int s = 0; s < 600; s++)
		if (r->status_counts[s] && s != 200)
			rk_buf_printf(&codes, "%s\"%d\":%ld", codes.len ? "," : "", s, r->status_counts[s]);
	if (!strcmp(r->opts->output, "json"))
		printf("{\"connections\":%ld,\"apiservers\":%zu,\"seconds\":%.3f,\"requests\":%ld,\"ok\":%ld,"
		       "\"failed\":%ld,\"putsPerSecond\":%.1f,\"p50Ms\":%.2f,\"p99Ms\":%.2f,\"otherStatus\":{"
		       "%s}}\n",
		       r->opts->connections, r->opts->node ? (size_t)1 : r->info->nnodes, elapsed,
		       r->ok + r->failed, r->ok, r->failed, rate, percentile(r, 0.5), percentile(r, 0.99),
		       rk_buf_cstr(&codes));
	else
		printf(
		    "%ld connections over %zu apiservers, %.2f s: %ld PUTs ok, %ld failed (%s), %.1f PUT/s, "
		    "p50 %.2f ms, p99 %.2f ms\n",
		    r->opts->connections, r->opts->node ? (size_t)1 : r->info->nnodes, elapsed, r->ok,
		    r->failed, rk_buf_cstr(&codes), rate, percentile(r, 0.5), percentile(r, 0.99));
	if (r->failed)
		fprintf(stderr, "first failure: %s\n", r->first_error);
	rk_buf_free(&codes);
}

static int parse_bench(int argc, char **argv, bench_opts *o, rk_err *err)
{
	*o = (bench_opts){
	    .output = "text", .connections = 16, .secrets = 1000, .namespaces = 4, .duration = 5};
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return rk_err_set(err, RK_BADINPUT, "unexpected argument \"%s\"", f);
		i++;
		int rc = RK_OK;
		if (!strcmp(f, "--dir"))
			o->dir = v;
		else if (!strcmp(f, "-o") && (!strcmp(v, "json") || !strcmp(v, "text")))
			o->output = v;
		else if (!strcmp(f, "--node"))
			o->node = v;
		else if (!strcmp(f, "--connections"))
			rc = lc_parse_long(f, v, 1, 1024, &o->connections, err);
		else if (!strcmp(f, "--secrets"))
			rc = lc_parse_long(f, v, 1, 10000000, &o->secrets, err);
		else if (!strcmp(f, "--namespaces"))
			rc = lc_parse_long(f, v, 1, 100000, &o->namespaces, err);
		else if (!strcmp(f, "--duration"))
			rc = lc_parse_double(f, v, 0.1, 3600, &o->duration, err);
		else
			rc = rk_err_set(err, RK_BADINPUT, "unknown flag \"%s\"", f);
		if (rc)
			return rc;
	}
	return RK_OK;
}

int sbx_bench_put_main(int argc, char **argv)
{
	bench_opts o;
	rk_err err;
	char absdir[4096];
	lc_info info;
	if (parse_bench(argc, argv, &o, &err) || lc_abs_dir(o.dir, absdir, &err) ||
	    lc_info_load(absdir, &info, &err)) {
		fprintf(stderr, "rekey-sandbox bench-put: %s\n", err.msg);
		return RK_BADINPUT;
	}
	if (o.node && !lc_info_node(&info, o.node)) {
		fprintf(stderr, "rekey-sandbox bench-put: --node %s: no such node in %s\n", o.node, absdir);
		return RK_BADINPUT;
	}
	bench_run r = {.opts = &o, .info = &info};
	double elapsed = bench_loop(&r);
	report(&r, elapsed);
	free(r.latencies);
	return r.ok > 0 ? RK_OK : RK_FAIL;
}
