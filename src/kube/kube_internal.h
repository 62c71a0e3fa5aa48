/* kube_internal.h (private): the rk_kube structure shared by kube.c (the curl multi engine) and
 * kube_auth.c (credentials: static token, token file, exec plugin, client certificate). */
#ifndef REKEY_KUBE_INTERNAL_H
#define REKEY_KUBE_INTERNAL_H

#include <curl/curl.h>
#include <sys/types.h>
#include <time.h>

#include "rekey/execcred.h"
#include "rekey/kube.h"

typedef struct kube_call kube_call;

typedef struct kube_auth {
	char *file_token; /* token read from token_file */
	struct timespec file_mtime;
	off_t file_size;
	ino_t file_ino;
	rk_exec_cred exec;             /* cached plugin credential */
	unsigned long exec_generation; /* bumped on every plugin run */
} kube_auth;

struct rk_kube {
	const rk_kube_config *cfg;
	rk_kube_config *owned_cfg; /* rk_kube_open's, freed with the client */
	rk_kube_opts opts;
	CURLM *multi;
	CURLSH *share;
	kube_call *active;  /* attempts handed to curl */
	kube_call *waiting; /* retries waiting for their time */
	size_t pending;
	kube_auth auth;
	rk_kube_stats stats;
	rk_kube_observe_fn observe;
	void *observe_user;
	rk_kube_final_fn final; /* rk_kube_set_final */
	void *final_user;
	unsigned rng;
};

/* Makes sure a usable credential is cached (token file re-read when changed, exec plugin run when the
 * cached credential expired). */
int kube_auth_refresh(rk_kube *k, rk_err *err);
/* Forgets the exec credential if it is still the one of `generation` (after a 401), so the next
 * refresh runs the plugin again. Returns 1 when a re-run is worth trying. */
int kube_auth_invalidate(rk_kube *k, unsigned long generation);
/* Adds the Authorization header (when there is a token) to *headers and the client certificate to
 * easy. A token for an http:// url is sent with a warning on stderr, once per process. */
int kube_auth_apply(rk_kube *k, CURL *easy, const char *url, struct curl_slist **headers);
void kube_auth_free(kube_auth *a);
/* Parses an answer's body (r->body, r->http_status set): r->json when it is JSON; reason, message,
 * the inconsistent continue token and retryAfterSeconds of a Status; the first line of a non-JSON
 * error body as the message. */
void kube_resp_parse(rk_kube_resp *r);
/* Takes a list page as if it had been fetched (the list then continues from its metadata.continue);
 * page is owned by the list from then on. For the fuzz harness tests/fuzz/fuzz_apijson.c. */
int kube_list_take_page(rk_kube_list *l, json_t *page, rk_err *err);
/* Frees a header list after wiping its strings (they may hold a bearer token). */
void kube_headers_free(struct curl_slist *headers);

#endif
