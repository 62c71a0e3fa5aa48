/* test_kube.c: the request engine without a server: a loopback port nobody listens on gives real
 * connection errors, so the retry bound, the observer, asynchronous callbacks and the one-line error
 * are checked; plus resource paths and argument checks. Server behaviour is in tests/e2e/40 and 41. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rekey/kube.h"

/* A loopback port that was free a moment ago (bound, then closed). */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static rk_kube_config *refused_config(void)
{
	rk_kube_config *cfg = calloc(1, sizeof *cfg);
	ck_assert_int_ge(asprintf(&cfg->server, "https://127.0.0.1:%d", free_port()), 0);
	cfg->source = strdup("test");
	return cfg;
}

struct observed {
	int attempts;
	long last_status;
	int done;
	int failed;
};

static void observe(void *user, const char *method, const char *endpoint, long status, double latency)
{
	struct observed *o = user;
	ck_assert_str_eq(method, "GET");
	ck_assert_ptr_null(endpoint); /* no pick, no endpoint: the cluster server */
	ck_assert(latency >= 0);
	o->attempts++;
	o->last_status = status;
}

START_TEST(connection_refused_retries_within_bound)
{
	rk_kube_config *cfg = refused_config();
	rk_kube_opts opts = {.max_attempts = 3, .backoff_base_ms = 10, .backoff_max_ms = 20};
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, &opts, &k, &err), RK_OK);
	struct observed o = {0};
	rk_kube_set_observer(k, observe, &o);
	rk_kube_req req = {.method = "GET", .path = "/version"};
	rk_kube_resp resp;
	ck_assert_int_eq(rk_kube_request(k, &req, &resp), RK_FAIL);
	ck_assert_int_eq(resp.attempts, 3);
	ck_assert_int_eq(resp.http_status, 0);
	ck_assert_int_eq(o.attempts, 3);
	ck_assert_ptr_nonnull(strstr(resp.err.msg, "GET https://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(resp.err.msg, "gave up after 3 attempts"));
	ck_assert_ptr_nonnull(strstr(resp.err.msg, "onnect"));
	ck_assert_ptr_null(strchr(resp.err.msg, '\n'));
	rk_kube_stats st;
	rk_kube_get_stats(k, &st);
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.retries, 2);
	rk_kube_resp_free(&resp);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
}
END_TEST

/* rk_kube_set_final: an answer the caller declares final is not retried, whatever attempts remain. */
static int final_at_second(void *user, const rk_kube_resp *attempt)
{
	int *asked = user;
	(*asked)++;
	ck_assert_int_eq(attempt->http_status, 0);
	return attempt->attempts >= 2;
}

START_TEST(final_answer_ends_retries)
{
	rk_kube_config *cfg = refused_config();
	rk_kube_opts opts = {.max_attempts = 6, .backoff_base_ms = 10, .backoff_max_ms = 20};
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, &opts, &k, &err), RK_OK);
	int asked = 0;
	rk_kube_set_final(k, final_at_second, &asked);
	rk_kube_req req = {.method = "GET", .path = "/version"};
	rk_kube_resp resp;
	ck_assert_int_eq(rk_kube_request(k, &req, &resp), RK_FAIL);
	ck_assert_int_eq(resp.attempts, 2);
	ck_assert_int_eq(asked, 2);
	ck_assert_ptr_nonnull(strstr(resp.err.msg, "gave up after 2 attempts"));
	rk_kube_resp_free(&resp);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
}
END_TEST

/* Two refused endpoints: each attempt goes where pick says, and the observer is told which. */
struct picks {
	char *urls[2];
	const char *observed[4];
	int npicked, nobserved;
};

static const char *pick_alternating(void *user, int attempt)
{
	struct picks *p = user;
	ck_assert_int_eq(attempt, p->npicked + 1);
	p->npicked++;
	return p->urls[(attempt - 1) % 2];
}

static void observe_endpoint(void *user, const char *method, const char *endpoint, long status,
                             double latency)
{
	struct picks *p = user;
	(void)method;
	(void)latency;
	ck_assert_int_eq(status, 0);
	p->observed[p->nobserved++] = endpoint;
}

START_TEST(pick_chooses_each_attempts_endpoint)
{
	rk_kube_config *cfg = refused_config();
	struct picks p = {0};
	ck_assert_int_ge(asprintf(&p.urls[0], "https://127.0.0.1:%d", free_port()), 0);
	ck_assert_int_ge(asprintf(&p.urls[1], "https://127.0.0.1:%d", free_port()), 0);
	rk_kube_opts opts = {.max_attempts = 3, .backoff_base_ms = 5, .backoff_max_ms = 10};
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, &opts, &k, &err), RK_OK);
	rk_kube_set_observer(k, observe_endpoint, &p);
	rk_kube_req req = {.method = "PUT",
	                   .path = "/x",
	                   .body = "{}",
	                   .body_len = 2,
	                   .pick = pick_alternating,
	                   .pick_user = &p};
	rk_kube_resp resp;
	ck_assert_int_eq(rk_kube_request(k, &req, &resp), RK_FAIL);
	ck_assert_int_eq(resp.attempts, 3);
	ck_assert_int_eq(p.npicked, 3);
	ck_assert_int_eq(p.nobserved, 3);
	ck_assert_ptr_eq(p.observed[0], p.urls[0]);
	ck_assert_ptr_eq(p.observed[1], p.urls[1]);
	ck_assert_ptr_eq(p.observed[2], p.urls[0]);
	ck_assert_ptr_nonnull(strstr(resp.err.msg, p.urls[0])); /* the last attempt's URL */
	ck_assert_ptr_nonnull(strstr(resp.url, p.urls[0]));
	rk_kube_resp_free(&resp);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
	free(p.urls[0]);
	free(p.urls[1]);
}
END_TEST

START_TEST(retry_budget_stops_early)
{
	rk_kube_config *cfg = refused_config();
	rk_kube_opts opts = {.max_attempts = 50, .retry_budget_ms = 300, .backoff_base_ms = 100};
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, &opts, &k, &err), RK_OK);
	rk_kube_req req = {.method = "GET", .path = "/version"};
	rk_kube_resp resp;
	ck_assert_int_eq(rk_kube_request(k, &req, &resp), RK_FAIL);
	ck_assert_int_lt(resp.attempts, 50);
	ck_assert(resp.total_s < 1.0);
	rk_kube_resp_free(&resp);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
}
END_TEST

static void count_done(void *user, rk_kube_resp *resp)
{
	struct observed *o = user;
	o->done++;
	if (resp->err.code != RK_OK)
		o->failed++;
	ck_assert_int_eq(resp->attempts, 1); /* no_retry */
}

START_TEST(async_callbacks_run_in_poll)
{
	rk_kube_config *cfg = refused_config();
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, NULL, &k, &err), RK_OK);
	struct observed o = {0};
	rk_kube_req req = {.method = "GET", .path = "/api/v1/secrets", .no_retry = 1};
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(rk_kube_submit(k, &req, count_done, &o, &err), RK_OK);
	ck_assert_uint_eq(rk_kube_pending(k), 5);
	ck_assert_int_eq(o.done, 0); /* nothing runs before poll */
	rk_kube_run_until_idle(k);
	ck_assert_int_eq(o.done, 5);
	ck_assert_int_eq(o.failed, 5);
	ck_assert_uint_eq(rk_kube_pending(k), 0);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
}
END_TEST

START_TEST(free_drops_pending_requests)
{
	rk_kube_config *cfg = refused_config();
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, NULL, &k, &err), RK_OK);
	struct observed o = {0};
	rk_kube_req req = {.method = "PUT", .path = "/x", .body = "{}", .body_len = 2};
	ck_assert_int_eq(rk_kube_submit(k, &req, count_done, &o, &err), RK_OK);
	rk_kube_free(k); /* no callback, no leak */
	ck_assert_int_eq(o.done, 0);
	rk_kube_config_free(cfg);
}
END_TEST

START_TEST(bad_requests_rejected)
{
	rk_kube_config *cfg = refused_config();
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, NULL, &k, &err), RK_OK);
	rk_kube_req req = {.method = NULL, .path = "/x"};
	ck_assert_int_eq(rk_kube_submit(k, &req, NULL, NULL, &err), RK_BADINPUT);
	rk_kube_list *l;
	ck_assert_int_eq(rk_kube_list_open(k, "/api/v1/secrets", 0, NULL, &l, &err), RK_BADINPUT);
	ck_assert_ptr_null(l);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
}
END_TEST

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listening socket that never answers keeps a request pending; wakeup ends a long poll at once. */
START_TEST(wakeup_ends_poll)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	rk_kube_config *cfg = calloc(1, sizeof *cfg);
	ck_assert_int_ge(asprintf(&cfg->server, "https://127.0.0.1:%d", ntohs(a.sin_port)), 0);
	rk_kube *k;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, NULL, &k, &err), RK_OK);
	struct observed o = {0};
	rk_kube_req req = {.method = "GET", .path = "/version", .no_retry = 1};
	ck_assert_int_eq(rk_kube_submit(k, &req, count_done, &o, &err), RK_OK);
	ck_assert_uint_eq(rk_kube_poll(k, 50), 1); /* still waiting for the handshake */
	rk_kube_wakeup(k);
	double t0 = mono_now();
	ck_assert_uint_eq(rk_kube_poll(k, 5000), 1);
	ck_assert(mono_now() - t0 < 2.0);
	ck_assert_int_eq(o.done, 0);
	rk_kube_free(k);
	rk_kube_config_free(cfg);
	close(fd);
}
END_TEST

START_TEST(resource_paths)
{
	rk_kube_resource core = {.version = "v1", .resource = "secrets", .namespaced = 1};
	rk_buf b = RK_BUF_INIT;
	ck_assert_int_eq(rk_kube_resource_path(&core, "team a", "s/1", &b), 0);
	ck_assert_str_eq(rk_buf_cstr(&b), "/api/v1/namespaces/team%20a/secrets/s%2F1");
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_kube_resource_path(&core, NULL, NULL, &b), 0);
	ck_assert_str_eq(rk_buf_cstr(&b), "/api/v1/secrets");
	rk_kube_resource crd = {.group = "example.com", .version = "v1beta1", .resource = "widgets"};
	rk_buf_reset(&b);
	ck_assert_int_eq(rk_kube_resource_path(&crd, "ignored", "w", &b), 0);
	ck_assert_str_eq(rk_buf_cstr(&b), "/apis/example.com/v1beta1/widgets/w");
	rk_buf_free(&b);
	char now[32];
	rk_kube_microtime(now);
	ck_assert_uint_eq(strlen(now), 27);
	ck_assert_int_eq(now[26], 'Z');
}
END_TEST

Suite *kube_suite(void)
{
	Suite *s = suite_create("kube");
	TCase *tc = tcase_create("engine");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, connection_refused_retries_within_bound);
	tcase_add_test(tc, pick_chooses_each_attempts_endpoint);
	tcase_add_test(tc, retry_budget_stops_early);
	tcase_add_test(tc, final_answer_ends_retries);
	tcase_add_test(tc, async_callbacks_run_in_poll);
	tcase_add_test(tc, free_drops_pending_requests);
	tcase_add_test(tc, bad_requests_rejected);
	tcase_add_test(tc, wakeup_ends_poll);
	tcase_add_test(tc, resource_paths);
	suite_add_tcase(s, tc);
	return s;
}
