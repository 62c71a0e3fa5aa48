/* test_throttled.c: an apiserver that keeps throttling. A loopback HTTP server (a real socket, one thread)
 * answers every request with one status (or GETs with a free Lease); the kube client marks an error
 * whose retries ran out on 429 (rk_err.throttled_tries) and nothing else, and the rotation turns exactly
 * that into RK_STOPPED "try again later" (rot_stop_if_throttled, used by the cluster lock, its take-over
 * of a free Lease included, and the preflight). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/rotation/rotation_internal.h"
#include "rekey/kube.h"

struct status_server {
	int listen_fd;
	int port;
	int status;     /* the HTTP status of every answer (but GETs when lease_free) */
	int lease_free; /* GETs answer 200 with a Lease nobody holds */
	int requests;
	pthread_t thread;
};

/* Reads one request: its head, then as many body bytes as Content-Length says. */
static void read_request(int fd, char *head, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	char *end = NULL;
	while (got < cap - 1 && (n = read(fd, head + got, cap - 1 - got)) > 0) {
		got += (size_t)n;
		head[got] = '\0';
		if ((end = strstr(head, "\r\n\r\n")))
			break;
	}
	const char *cl = strcasestr(head, "\r\ncontent-length:");
	long body = cl ? strtol(cl + 17, NULL, 10) : 0;
	long have = end ? (long)(got - (size_t)(end + 4 - head)) : 0;
	char sink[4096];
	while (have < body && (n = read(fd, sink, sizeof sink)) > 0)
		have += n;
}

/* Answers one request and closes the connection. */
static void answer(struct status_server *s, int fd)
{
	char head[8192], body[512], reply[1024];
	read_request(fd, head, sizeof head);
	int code = s->lease_free && !strncmp(head, "GET ", 4) ? 200 : s->status;
	const char *reason = code == 200 ? "OK" : code == 429 ? "TooManyRequests" : "ServiceUnavailable";
	int blen = code == 200 ? snprintf(body, sizeof body,
	                                  "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
	                                  "\"metadata\":{\"name\":\"rekeyctl-rotation-lock\",\"namespace\":"
	                                  "\"kube-system\",\"resourceVersion\":\"7\"},\"spec\":{}}")
	                       : snprintf(body, sizeof body,
	                                  "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
	                                  "\"message\":\"try again later\",\"reason\":\"%s\",\"code\":%d}",
	                                  reason, code);
	int rlen = snprintf(reply, sizeof reply,
	                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: 0\r\n"
	                    "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
	                    code, reason, blen, body);
	if (write(fd, reply, (size_t)rlen) == rlen)
		__atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
	close(fd);
}

static void *serve(void *arg)
{
	struct status_server *s = arg;
	int fd;
	while ((fd = accept(s->listen_fd, NULL, NULL)) >= 0)
		answer(s, fd);
	return NULL;
}

static void server_start(struct status_server *s, int status)
{
	memset(s, 0, sizeof *s);
	s->status = status;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(s->listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct status_server *s)
{
	shutdown(s->listen_fd, SHUT_RDWR); /* accept returns: the thread ends */
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

/* A client of s, 3 tries per request, backoff of a millisecond or two. */
static rk_kube *client_of(const struct status_server *s, rk_kube_config *cfg, char server[64])
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(server, 64, "http://127.0.0.1:%d", s->port);
	cfg->server = server;
	cfg->source = "test";
	rk_kube_opts opts = {.max_attempts = 3, .backoff_base_ms = 1, .backoff_max_ms = 2};
	rk_kube *k = NULL;
	rk_err err;
	ck_assert_int_eq(rk_kube_new(cfg, &opts, &k, &err), RK_OK);
	return k;
}

/* GET of the cluster lock's Lease (what the lock asks first) against a server answering `status` to
 * every try: the error it ends with. */
static int lease_get_against(int status, rk_err *err, int *requests)
{
	struct status_server s;
	rk_kube_config cfg;
	char server[64];
	server_start(&s, status);
	rk_kube *k = client_of(&s, &cfg, server);
	json_t *lease = NULL;
	int rc = rk_kube_lease_get(k, "kube-system", "rekeyctl-rotation-lock", &lease, err);
	ck_assert_ptr_null(lease);
	rk_kube_free(k);
	server_stop(&s);
	*requests = s.requests;
	return rc;
}

START_TEST(exhausted_429_marks_the_tries_and_stops_the_rotation)
{
	rk_err err;
	int requests = 0;
	ck_assert_int_eq(lease_get_against(429, &err, &requests), RK_FAIL); /* the client's own code */
	ck_assert_int_eq(requests, 3);
	ck_assert_int_eq(err.throttled_tries, 3);
	ck_assert_ptr_nonnull(strstr(err.msg, "gave up after 3 attempts"));
	ck_assert_int_eq(rot_stop_if_throttled("cluster lock", &err), RK_STOPPED);
	ck_assert_int_eq(err.code, RK_STOPPED);
	ck_assert_ptr_nonnull(strstr(err.msg,
	                             "cluster lock: the apiserver kept throttling (429) for 3 tries: "
	                             "nothing was changed; try again later (GET http://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(err.msg, "429 TooManyRequests: try again later)"));
}
END_TEST

START_TEST(exhausted_503_stays_a_failure)
{
	rk_err err;
	int requests = 0;
	ck_assert_int_eq(lease_get_against(503, &err, &requests), RK_FAIL);
	ck_assert_int_eq(requests, 3);
	ck_assert_int_eq(err.throttled_tries, 0);
	char before[RK_ERR_MSG_MAX];
	snprintf(before, sizeof before, "%s", err.msg);
	ck_assert_int_eq(rot_stop_if_throttled("cluster lock", &err), RK_FAIL);
	ck_assert_str_eq(err.msg, before);
}
END_TEST

/* The Lease is free but every write of it is throttled: the lock stops ("try again later", exit 3), it
 * does not refuse as unsafe (exit 4, "could not take over the lease") as it did. */
START_TEST(lock_whose_takeover_is_throttled_stops)
{
	struct status_server s;
	rk_kube_config cfg;
	char server[64];
	server_start(&s, 429);
	s.lease_free = 1;
	rot_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.kube = client_of(&s, &cfg, server);
	rk_err err;
	ck_assert_int_eq(rot_lock_acquire(&ctx, &err), RK_STOPPED);
	ck_assert_ptr_nonnull(strstr(err.msg,
	                             "cluster lock: the apiserver kept throttling (429) for 3 tries: "
	                             "nothing was changed; try again later (PUT http://127.0.0.1:"));
	rk_kube_free(ctx.kube);
	server_stop(&s);
	ck_assert_int_eq(s.requests, 4); /* the GET, then 3 PUTs */
}
END_TEST

/* The mark follows the error where it is passed on (prefix, wrap) and never outlives it (set, clear);
 * only an RK_FAIL is turned into RK_STOPPED (an RK_UNSAFE verdict stays one). */
START_TEST(mark_lifetime)
{
	rk_err err;
	rk_err_set(&err, RK_FAIL, "GET /x: gave up");
	err.throttled_tries = 6;
	rk_err_prefix(&err, "lease");
	ck_assert_int_eq(err.throttled_tries, 6);
	rk_err_wrap(&err, RK_UNSAFE, "preflight");
	ck_assert_int_eq(err.throttled_tries, 6);
	ck_assert_int_eq(rot_stop_if_throttled("preflight", &err), RK_UNSAFE);
	rk_err_set(&err, RK_FAIL, "something else");
	ck_assert_int_eq(err.throttled_tries, 0);
	err.throttled_tries = 2;
	rk_err_clear(&err);
	ck_assert_int_eq(err.throttled_tries, 0);
}
END_TEST

Suite *throttled_suite(void)
{
	Suite *s = suite_create("throttled");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, exhausted_429_marks_the_tries_and_stops_the_rotation);
	tcase_add_test(tc, exhausted_503_stays_a_failure);
	tcase_add_test(tc, lock_whose_takeover_is_throttled_stops);
	tcase_add_test(tc, mark_lifetime);
	suite_add_tcase(s, tc);
	return s;
}
