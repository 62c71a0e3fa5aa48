/* etcdproxy.c: `rekey-sandbox etcd-proxy`, a small TCP proxy in front of etcd that adds latency
 * between the apiservers and etcd (started by `up --real`; the real apiservers' --etcd-servers names
 * it). Every byte etcd sends back is held for the current latency before it is forwarded, so each
 * request's round trip grows by that latency while many requests stay in flight (gRPC multiplexes
 * them on few connections): a delay, not a rate limit. The latency is read from
 * D/etcd-faults.json ({"latencyMs": N}, written by `rekey-sandbox fault --etcd-latency-ms N`) when its
 * modification time changes, so a change applies to the next chunk. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "sandbox.h"

#define CHUNK 65536

typedef struct chunk {
	struct chunk *next;
	double due; /* monotonic seconds */
	size_t len; /* 0 = end of stream */
	char data[];
} chunk;

typedef struct conn {
	int client, upstream;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	chunk *head, *tail;
	int refs;
} conn;

static const char *faults_path;
static pthread_mutex_t latency_mu = PTHREAD_MUTEX_INITIALIZER;
static struct timespec latency_mtime;
static double latency_s;

/* The configured latency in seconds, re-read when D/etcd-faults.json changed. */
static double current_latency(void)
{
	struct stat st;
	int present = stat(faults_path, &st) == 0;
	pthread_mutex_lock(&latency_mu);
	if (!present) {
		latency_s = 0;
		latency_mtime = (struct timespec){0, 0};
	} else if (st.st_mtim.tv_sec != latency_mtime.tv_sec || st.st_mtim.tv_nsec != latency_mtime.tv_nsec) {
		json_t *root = json_load_file(faults_path, 0, NULL);
		latency_s = (double)json_integer_value(json_object_get(root, "latencyMs")) / 1000.0;
		json_decref(root);
		latency_mtime = st.st_mtim;
	}
	double v = latency_s;
	pthread_mutex_unlock(&latency_mu);
	return v;
}

static void conn_release(conn *c)
{
	pthread_mutex_lock(&c->mu);
	int left = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (left)
		return;
	close(c->client);
	close(c->upstream);
	for (chunk *k = c->head, *next; k; k = next) {
		next = k->next;
		free(k);
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* apiserver -> etcd: copied as it comes. */
static void *pump_requests(void *arg)
{
	conn *c = arg;
	char buf[CHUNK];
	ssize_t n;
	while ((n = recv(c->client, buf, sizeof buf, 0)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && rk_write_all(c->upstream, buf, (size_t)n))
			break;
	shutdown(c->upstream, SHUT_WR);
	conn_release(c);
	return NULL;
}

static void enqueue(conn *c, const char *data, size_t len)
{
	chunk *k = malloc(sizeof *k + len);
	if (!k)
		abort();
	k->next = NULL;
	k->len = len;
	k->due = lc_now() + current_latency();
	if (len)
		memcpy(k->data, data, len);
	pthread_mutex_lock(&c->mu);
	if (c->tail)
		c->tail->next = k;
	else
		c->head = k;
	c->tail = k;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* etcd -> apiserver, first half: reads and stamps each chunk with the time it may leave. */
static void *read_responses(void *arg)
{
	conn *c = arg;
	char buf[CHUNK];
	ssize_t n;
	while ((n = recv(c->upstream, buf, sizeof buf, 0)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			enqueue(c, buf, (size_t)n);
	enqueue(c, NULL, 0);
	conn_release(c);
	return NULL;
}

static chunk *next_due(conn *c)
{
	pthread_mutex_lock(&c->mu);
	while (!c->head)
		pthread_cond_wait(&c->cv, &c->mu);
	chunk *k = c->head;
	c->head = k->next;
	if (!c->head)
		c->tail = NULL;
	pthread_mutex_unlock(&c->mu);
	double wait = k->due - lc_now();
	if (wait > 0)
		lc_sleep_ms((int)(wait * 1000.0 + 0.5));
	return k;
}

/* etcd -> apiserver, second half: forwards each chunk when it is due, in order. */
static void *write_responses(void *arg)
{
	conn *c = arg;
	for (;;) {
		chunk *k = next_due(c);
		size_t len = k->len;
		int failed = len && rk_write_all(c->client, k->data, len);
		free(k);
		if (!len || failed)
			break;
	}
	shutdown(c->client, SHUT_RDWR);
	shutdown(c->upstream, SHUT_RDWR);
	conn_release(c);
	return NULL;
}

static int connect_upstream(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)addr, sizeof *addr)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void serve(int client, const struct sockaddr_in *upstream_addr)
{
	int one = 1;
	int upstream = connect_upstream(upstream_addr);
	if (upstream < 0) {
		close(client);
		return;
	}
	setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	c->client = client;
	c->upstream = upstream;
	c->refs = 3;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	void *(*fns[3])(void *) = {pump_requests, read_responses, write_responses};
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, fns[i], c))
			abort();
	}
	pthread_attr_destroy(&attr);
}

static int parse_addr(const char *url, struct sockaddr_in *addr)
{
	int port = 0;
	if (sscanf(url, "http://127.0.0.1:%d", &port) != 1 || port <= 0 || port > 65535)
		return -1;
	*addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static int listen_on(int port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 128)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* rekey-sandbox etcd-proxy --dir D --port P --upstream http://127.0.0.1:PORT */
int sbx_etcd_proxy_main(int argc, char **argv)
{
	const char *dir = NULL, *upstream = NULL;
	long port = 0;
	rk_err err;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--upstream"))
			upstream = argv[i + 1];
		else if (!strcmp(argv[i], "--port") &&
		         lc_parse_long("--port", argv[i + 1], 1, 65535, &port, &err))
			return fprintf(stderr, "rekey-sandbox etcd-proxy: %s\n", err.msg), RK_BADINPUT;
	}
	struct sockaddr_in addr;
	if (!dir || !upstream || !port || argc % 2 == 0 || parse_addr(upstream, &addr)) {
		fprintf(stderr, "usage: rekey-sandbox etcd-proxy --dir D --port P --upstream "
		                "http://127.0.0.1:PORT\n");
		return RK_BADINPUT;
	}
	signal(SIGPIPE, SIG_IGN); /* a closed peer is a write error, not a signal */
	faults_path = lc_path("%s/etcd-faults.json", dir);
	int fd = listen_on((int)port);
	if (fd < 0) {
		fprintf(stderr, "rekey-sandbox etcd-proxy: cannot listen on 127.0.0.1:%ld: %s\n", port,
		        strerror(errno));
		return RK_FAIL;
	}
	fprintf(stderr, "etcd-proxy: 127.0.0.1:%ld -> %s\n", port, upstream);
	for (;;) {
		int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (client >= 0)
			serve(client, &addr);
		else if (errno != EINTR && errno != ECONNABORTED)
			lc_sleep_ms(10);
	}
}

int lc_etcd_proxy_start(const char *dir, const char *upstream, char url[128], rk_err *err)
{
	int port = lc_free_port();
	if (port <= 0)
		return rk_err_set(err, RK_FAIL, "no free loopback port for the etcd proxy");
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	char *argv[] = {(char *)lc_self_exe(), "etcd-proxy",     "--dir", (char *)dir, "--port", port_text,
	                "--upstream",          (char *)upstream, NULL};
	char *log = lc_path("%s/etcd-proxy.log", dir);
	pid_t pid = lc_spawn_daemon(argv, log);
	free(log);
	if (pid <= 0)
		return rk_err_set(err, RK_FAIL, "cannot start the etcd proxy");
	char *pidfile = lc_path("%s/etcd-proxy.pid", dir);
	char *pidtext = lc_path("%ld\n", (long)pid);
	int rc = lc_write_text(pidfile, pidtext, 0600, err);
	free(pidfile), free(pidtext);
	snprintf(url, 128, "http://127.0.0.1:%d", port);
	double deadline = lc_now() + 10;
	while (rc == RK_OK && !lc_etcd_healthy(url)) { /* a range through the proxy answers */
		if (lc_now() > deadline || !lc_pid_alive(pid, NULL))
			return rk_err_set(err, RK_FAIL,
			                  "the etcd proxy did not start (see %s/etcd-proxy.log)", dir);
		lc_sleep_ms(20);
	}
	return rc;
}
