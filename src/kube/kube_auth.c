/* kube_auth.c: credentials for API requests: client certificate (from the kubeconfig or an exec
 * plugin, handed to curl as in-memory blobs, never written to disk), bearer token, token file re-read
 * when it changes, exec plugin output cached until its expirationTimestamp. */
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "kube_internal.h"
#include "rekey/log.h"

static int file_changed(const kube_auth *a, const struct stat *st)
{
	return !a->file_token || st->st_mtim.tv_sec != a->file_mtime.tv_sec ||
	       st->st_mtim.tv_nsec != a->file_mtime.tv_nsec || st->st_size != a->file_size ||
	       st->st_ino != a->file_ino;
}

static int read_token_file(kube_auth *a, const char *path, const struct stat *st, rk_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return rk_err_set(err, RK_BADINPUT, "token file %s: %m", path);
	setvbuf(fp, NULL, _IONBF, 0); /* no unwiped stdio buffer */
	rk_buf b = RK_BUF_SECRET;
	char chunk[1024];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		rk_buf_append(&b, chunk, n);
	fclose(fp);
	OPENSSL_cleanse(chunk, sizeof chunk);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = 0;
	if (b.len == 0) {
		rk_buf_wipe_free(&b);
		return rk_err_set(err, RK_BADINPUT, "token file %s is empty", path);
	}
	if (a->file_token) {
		OPENSSL_cleanse(a->file_token, strlen(a->file_token));
		free(a->file_token);
	}
	a->file_token = rk_buf_steal(&b);
	a->file_mtime = st->st_mtim;
	a->file_size = st->st_size;
	a->file_ino = st->st_ino;
	return RK_OK;
}

static int refresh_token_file(rk_kube *k, rk_err *err)
{
	struct stat st;
	const char *path = k->cfg->token_file;
	if (stat(path, &st) != 0) {
		if (k->auth.file_token)
			return RK_OK; /* keep the last good token while the file is being replaced */
		return rk_err_set(err, RK_BADINPUT, "token file %s: %m", path);
	}
	if (!file_changed(&k->auth, &st))
		return RK_OK;
	return read_token_file(&k->auth, path, &st, err);
}

int kube_auth_refresh(rk_kube *k, rk_err *err)
{
	if (k->cfg->token_file)
		return refresh_token_file(k, err);
	if (!k->cfg->exec || rk_exec_cred_valid(&k->auth.exec, time(NULL)))
		return RK_OK;
	k->stats.exec_runs++;
	k->auth.exec_generation++;
	rk_debug("kube.exec", "running exec credential plugin %s", k->cfg->exec->command);
	return rk_exec_run(k->cfg, &k->auth.exec, err);
}

int kube_auth_invalidate(rk_kube *k, unsigned long generation)
{
	if (!k->cfg->exec)
		return 0;
	if (generation == k->auth.exec_generation)
		rk_exec_cred_clear(&k->auth.exec);
	return 1;
}

static const char *current_token(const rk_kube *k)
{
	if (k->cfg->token_file && k->auth.file_token)
		return k->auth.file_token;
	if (k->cfg->exec && k->auth.exec.token)
		return k->auth.exec.token;
	return k->cfg->token;
}

static void set_blob(CURL *easy, CURLoption opt, const rk_buf *pem)
{
	struct curl_blob blob = {.data = pem->data, .len = pem->len, .flags = CURL_BLOB_COPY};
	curl_easy_setopt(easy, opt, &blob);
}

/* kubectl does not send credentials over plain HTTP at all; rekeyctl does (a test or a local proxy may
 * need it) but says so once, naming the server and never the token. */
static void warn_token_over_http(const char *url)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;
	if (strncasecmp(url, "http://", 7) != 0 || atomic_flag_test_and_set(&warned))
		return;
	size_t host_len = strcspn(url + 7, "/?#");
	rk_warn(
	    "kube.token_over_http",
	    "Warning: sending a bearer token to http://%.*s over plain HTTP: anyone on the network path can "
	    "read it; use an https:// server",
	    (int)host_len, url + 7);
}

int kube_auth_apply(rk_kube *k, CURL *easy, const char *url, struct curl_slist **headers)
{
	const char *token = current_token(k);
	if (token && *token) {
		warn_token_over_http(url);
		size_t len = strlen(token) + 32;
		char *line = malloc(len);
		if (!line)
			return -1;
		snprintf(line, len, "Authorization: Bearer %s", token);
		struct curl_slist *h = curl_slist_append(*headers, line);
		OPENSSL_cleanse(line, len);
		free(line);
		if (!h)
			return -1;
		*headers = h;
	}
	const rk_buf *cert = &k->cfg->client_cert_pem, *key = &k->cfg->client_key_pem;
	if (k->cfg->exec && k->auth.exec.cert_pem.len) {
		cert = &k->auth.exec.cert_pem;
		key = &k->auth.exec.key_pem;
	}
	if (cert->len && key->len) {
		set_blob(easy, CURLOPT_SSLCERT_BLOB, cert);
		set_blob(easy, CURLOPT_SSLKEY_BLOB, key);
		curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return 0;
}

void kube_headers_free(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		OPENSSL_cleanse(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

void kube_auth_free(kube_auth *a)
{
	if (a->file_token) {
		OPENSSL_cleanse(a->file_token, strlen(a->file_token));
		free(a->file_token);
	}
	a->file_token = NULL;
	rk_exec_cred_clear(&a->exec);
}
