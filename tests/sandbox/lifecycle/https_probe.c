/* https_probe.c: HTTPS requests from the lifecycle half to the sandbox's apiservers (readiness probes),
 * trusting D/pki/ca.crt and authenticating with the admin client certificate. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/buf.h"
#include "sandbox.h"

void lc_curl_tls(void *handle, const char *dir)
{
	CURL *curl = handle;
	char *ca = lc_path("%s/pki/ca.crt", dir);
	char *cert = lc_path("%s/pki/admin.crt", dir);
	char *key = lc_path("%s/pki/admin.key", dir);
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
	free(ca);
	free(cert);
	free(key);
}

static size_t collect(char *data, size_t size, size_t n, void *userp)
{
	return rk_buf_append(userp, data, size * n) ? 0 : size * n;
}

long lc_https_get(const char *dir, const char *url, const char *path, double timeout, char **body)
{
	CURL *curl = curl_easy_init();
	if (!curl)
		return 0;
	rk_buf out = RK_BUF_INIT;
	char *full = lc_path("%s%s", url, path);
	curl_easy_setopt(curl, CURLOPT_URL, full);
	lc_curl_tls(curl, dir);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	long status = 0;
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	free(full);
	if (body)
		*body = rk_buf_steal(&out);
	else
		rk_buf_free(&out);
	return status;
}
