/* grpc_call.c: drives the gRPC client module (include/rekey/grpc.h) from the end-to-end scenarios:
 * one unary call (or --calls N on one channel) with the request message read from stdin, the reply
 * message written to stdout. stderr says how it ended. Exit 0 OK, 1 failed, 3 the peer is not a gRPC
 * server, 2 bad usage.
 * usage: e2e-grpc_call TARGET METHOD [--cacert F] [--cert F] [--key F] [--deadline-ms N] [--calls N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/fsutil.h"
#include "rekey/grpc.h"

static int load(const char *path, rk_buf *out)
{
	char *data = NULL;
	size_t len = 0;
	rk_err err;
	if (rk_read_file(path, &data, &len, &err) != RK_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	out->data = (uint8_t *)data;
	out->len = len;
	out->cap = len + 1;
	return 0;
}

static int read_stdin(rk_buf *req)
{
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		if (rk_buf_append(req, chunk, n) != 0)
			return -1;
	return 0;
}

struct args {
	rk_buf ca, cert, key;
	long deadline_ms;
	int calls;
};

static int parse(int argc, char **argv, struct args *a)
{
	a->calls = 1;
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		if (!strcmp(argv[i], "--cacert") && load(argv[i + 1], &a->ca) == 0)
			continue;
		if (!strcmp(argv[i], "--cert") && load(argv[i + 1], &a->cert) == 0)
			continue;
		if (!strcmp(argv[i], "--key") && load(argv[i + 1], &a->key) == 0)
			continue;
		if (!strcmp(argv[i], "--deadline-ms")) {
			a->deadline_ms = atol(argv[i + 1]);
			continue;
		}
		if (!strcmp(argv[i], "--calls") && (a->calls = atoi(argv[i + 1])) > 0)
			continue;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	memset(&a, 0, sizeof a);
	if (argc < 3 || parse(argc, argv, &a) != 0) {
		fprintf(stderr, "usage: e2e-grpc_call TARGET METHOD [--cacert F] [--cert F] [--key F] "
		                "[--deadline-ms N] [--calls N]\n");
		return 2;
	}
	rk_buf req = RK_BUF_INIT, resp = RK_BUF_INIT;
	rk_grpc_opts o = {.target = argv[1], .ca_pem = &a.ca, .cert_pem = &a.cert, .key_pem = &a.key};
	rk_grpc *g = NULL;
	rk_err err;
	int rc = read_stdin(&req) == 0 ? rk_grpc_open(&o, &g, &err) : RK_FAIL;
	rk_grpc_status st = {0};
	for (int i = 0; i < a.calls && rc == RK_OK; i++)
		rc = rk_grpc_call_buf(g, argv[2], req.data, req.len, a.deadline_ms, &resp, &st, &err);
	if (rc == RK_OK)
		fwrite(resp.data, 1, resp.len, stdout);
	else
		fprintf(stderr, "%s\n", err.msg);
	fprintf(stderr, "grpc-status %d, not-grpc %d, http %ld, message \"%s\"\n", st.code, st.not_grpc,
	        st.http_status, st.message);
	rk_grpc_close(g);
	rk_buf *bufs[] = {&req, &resp, &a.ca, &a.cert, &a.key};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		rk_buf_wipe_free(bufs[i]);
	return rc == RK_OK ? 0 : st.not_grpc ? 3 : rc;
}
