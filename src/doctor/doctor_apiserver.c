/* doctor_apiserver.c: can one apiserver be reached (a TCP connect of our own, then TLS and
 * authentication through the kube client, each failure its own finding), and is it ready: /readyz?verbose,
 * and for a failed kms check its reason from /readyz/<check> (the verbose list withholds it; docs/kms.md
 * section 5). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "doctor_internal.h"

/* host and port of https://host:port[/prefix] (default port 443; [v6] brackets removed). */
static int split_url(const char *url, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *end = p + strcspn(p, "/?");
	const char *colon = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return -1;
		snprintf(host, hcap, "%.*s", (int)(close - p - 1), p + 1);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		snprintf(host, hcap, "%.*s", (int)((colon ? colon : end) - p), p);
	}
	snprintf(port, pcap, "%.*s", colon ? (int)(end - colon - 1) : 3, colon ? colon + 1 : "443");
	return *host && *port ? 0 : -1;
}

/* One non-blocking connect bounded by timeout_ms: 0, or an errno value. */
static int connect_one(const struct addrinfo *ai, long timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return errno;
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
	if (rc == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int ready = poll(&pfd, 1, (int)timeout_ms);
		socklen_t len = sizeof rc;
		if (ready == 0)
			rc = ETIMEDOUT;
		else if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) != 0)
			rc = errno;
	}
	close(fd);
	return rc;
}

/* RK_OK when some address of the apiserver accepts a TCP connection; else a finding. */
static int check_tcp(doc_run *run, const doc_apiserver *a)
{
	const char *name = a->node->name, *url = a->node->apiserver;
	char host[256], port[16];
	if (split_url(url, host, sizeof host, port, sizeof port) != 0) {
		doc_add(run->report, RK_DOCTOR_CRITICAL, name, "tcp",
		        "fix the node's apiserver URL in the plan", "cannot tell host and port from %s", url);
		return RK_FAIL;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		doc_add(run->report, RK_DOCTOR_CRITICAL, name, "tcp",
		        "check the host name in the plan and this machine's DNS", "%s: cannot resolve %s: %s",
		        url, host, gai_strerror(gai));
		return RK_FAIL;
	}
	int rc = ENOENT;
	for (const struct addrinfo *ai = res; ai && rc != 0; ai = ai->ai_next)
		rc = connect_one(ai, run->opts->timeout_ms);
	freeaddrinfo(res);
	if (rc == 0)
		return RK_OK;
	doc_add(
	    run->report, RK_DOCTOR_CRITICAL, name, "tcp",
	    rc == ECONNREFUSED
	        ? "the apiserver is not running or not listening: check its static pod on the node (crictl "
	          "ps -a, the kubelet's log, the apiserver's log); the other apiservers keep serving"
	        : "no route or a firewall between here and the node: check the network path to the port",
	    "TCP connect to %s:%s failed: %s", host, port, strerror(rc));
	return RK_FAIL;
}

void doc_get(doc_run *run, const doc_apiserver *a, const char *path, rk_kube_resp *resp)
{
	rk_kube_req req = {.method = "GET",
	                   .path = path,
	                   .endpoint = a->node->apiserver,
	                   .accept = "text/plain, */*",
	                   .no_retry = 1};
	rk_kube_request(run->kube, &req, resp);
}

/* The answer to /readyz?verbose: TLS and authentication findings; RK_OK when it came over an
 * authenticated connection. */
static int check_tls_auth(doc_run *run, const doc_apiserver *a, const rk_kube_resp *resp)
{
	const char *name = a->node->name;
	const rk_kube_config *cfg = run->kcfg;
	if (resp->http_status == 0) {
		doc_add(run->report, RK_DOCTOR_CRITICAL, name, "tls",
		        "TCP works, so check the serving certificate against the kubeconfig's CA and server "
		        "name (openssl s_client -connect HOST:PORT -CAfile CA), or why the apiserver does "
		        "not answer (its log)",
		        "TLS or HTTP exchange failed: %s", resp->err.msg);
		return RK_FAIL;
	}
	if (resp->http_status == 401 || resp->http_status == 403) {
		doc_add(run->report, RK_DOCTOR_CRITICAL, name, "auth",
		        resp->http_status == 401 ? "renew the credentials of the kubeconfig user (client "
		                                   "certificate expiry, token, exec plugin)"
		                                 : "grant the user get on the non-resource URLs /readyz and "
		                                   "/metrics (e.g. the system:monitoring group)",
		        "user %s of context %s was refused: HTTP %ld %s",
		        cfg->user_name ? cfg->user_name : "?", cfg->context_name ? cfg->context_name : "?",
		        resp->http_status, resp->message ? resp->message : "");
		return RK_FAIL;
	}
	return RK_OK;
}

/* Why a kms check failed (its text from /readyz/<check>), as an action. */
static const char *kms_reason_action(const char *text)
{
	if (strstr(text, "no such file or directory"))
		return "the plugin's socket is missing on this node: start the KMS plugin (its socket is the "
		       "config's endpoint); reads go on from cached DEK seeds, writes fail 3 min after the "
		       "last good Status";
	if (strstr(text, "connection refused"))
		return "nothing listens on the plugin's socket (a stale socket file): restart the KMS plugin";
	if (strstr(text, "DeadlineExceeded"))
		return "the plugin did not answer Status within the provider's timeout: check the plugin's "
		       "latency to its KMS; writes fail 3 min after the last good Status";
	if (strstr(text, "healthz") || strstr(text, "not healthy"))
		return "the plugin reports itself unhealthy: see its log and its KMS (sealed key, "
		       "credentials)";
	if (strstr(text, "KeyID") || strstr(text, "keyID"))
		return "the plugin returns an invalid key_id (empty or over 1024 bytes): fix the plugin";
	if (strstr(text, "code = "))
		return "the plugin answers Status with a gRPC error: see the plugin's log; its KMS may "
		       "refuse it (credentials, quota, network)";
	return "see the apiserver's log and the plugin's log";
}

/* The failed checks of a verbose readyz list ("[-]name failed: ...") into out, comma separated. */
static void failed_checks(const char *text, char *out, size_t cap, int *has_kms)
{
	out[0] = 0;
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t n = strcspn(line, " \n");
		if (n > 3 && (!strncmp(line, "[+]", 3) || !strncmp(line, "[-]", 3)) &&
		    !strncmp(line + 3, "kms-provider", 12))
			*has_kms = 1;
		if (n > 3 && !strncmp(line, "[-]", 3)) {
			size_t used = strlen(out);
			snprintf(out + used, cap - used, "%s%.*s", used ? ", " : "", (int)(n - 3), line + 3);
		}
	}
}

/* One failed kms check: its reason. */
static void explain_kms_check(doc_run *run, const doc_apiserver *a, const char *check)
{
	char path[160];
	snprintf(path, sizeof path, "/readyz/%s", check);
	rk_kube_resp resp;
	doc_get(run, a, path, &resp);
	const char *text = resp.body.len ? (const char *)resp.body.data : resp.err.msg;
	doc_add(run->report, RK_DOCTOR_CRITICAL, a->node->name, "kms-readyz", kms_reason_action(text),
	        "%s check failed (HTTP %ld): %.700s", check, resp.http_status, text);
	rk_kube_resp_free(&resp);
}

static void check_readyz(doc_run *run, doc_apiserver *a, const rk_kube_resp *resp)
{
	const char *text = resp->body.len ? (const char *)resp->body.data : "";
	char failed[512];
	failed_checks(text, failed, sizeof failed, &a->has_kms);
	if (resp->http_status == 200) {
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "readyz", "", "ready%s",
		        a->has_kms ? ", kms-providers ok" : " (no kms check: no KMS provider in its config)");
		return;
	}
	size_t named = 0;
	char *save = NULL;
	for (char *name = strtok_r(failed, ", ", &save); name; name = strtok_r(NULL, ", ", &save), named++) {
		if (!strncmp(name, "kms-provider", 12))
			explain_kms_check(run, a, name);
		else
			doc_add(
			    run->report, RK_DOCTOR_CRITICAL, a->node->name, "readyz",
			    "see the apiserver's log for that check (etcd: etcd's health and the apiserver's "
			    "etcd flags; informer-sync: often a consequence of a failing KMS at start-up)",
			    "not ready (HTTP %ld): check %s failed", resp->http_status, name);
	}
	if (!named) /* e.g. 503 while it shuts down: no check list */
		doc_add(run->report, RK_DOCTOR_CRITICAL, a->node->name, "readyz", "see the apiserver's log",
		        "not ready (HTTP %ld): %.300s", resp->http_status, text);
}

void doc_check_apiserver(doc_run *run, doc_apiserver *a)
{
	if (check_tcp(run, a) != RK_OK)
		return;
	rk_kube_resp resp;
	doc_get(run, a, "/readyz?verbose", &resp);
	if (check_tls_auth(run, a, &resp) == RK_OK) {
		a->reached = 1;
		doc_add(run->report, RK_DOCTOR_OK, a->node->name, "reach", "",
		        "%s: TCP, TLS and authentication ok", a->node->apiserver);
		check_readyz(run, a, &resp);
	}
	rk_kube_resp_free(&resp);
}
