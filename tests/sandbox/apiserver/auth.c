/* auth.c: client-certificate (gnutls peer verification against the trusted CA) and static bearer-token
 * authentication for the sandbox apiserver. */
#include "auth.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver_util.h"

struct token {
	char *token, *user;
};

static struct token *tokens;
static size_t ntokens;

int sbx_auth_init(const char *tokens_path, rk_err *err)
{
	size_t len = 0;
	char *text = sbx_read_file(tokens_path, &len);
	if (!text)
		return RK_OK;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *comma = strchr(line, ',');
		if (!comma || comma == line)
			continue;
		*comma = 0;
		char *user = comma + 1, *end = strchr(user, ',');
		if (end)
			*end = 0;
		struct token *grown = realloc(tokens, (ntokens + 1) * sizeof *tokens);
		if (!grown) {
			OPENSSL_cleanse(text, len);
			free(text);
			return rk_err_set(err, RK_FAIL, "out of memory");
		}
		tokens = grown;
		tokens[ntokens].token = strdup(line);
		tokens[ntokens].user = strdup(user);
		ntokens++;
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return RK_OK;
}

void sbx_auth_free(void)
{
	for (size_t i = 0; i < ntokens; i++) {
		OPENSSL_cleanse(tokens[i].token, strlen(tokens[i].token));
		free(tokens[i].token);
		free(tokens[i].user);
	}
	free(tokens);
	tokens = NULL;
	ntokens = 0;
}

/* Constant-time comparison of two NUL-terminated strings. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

static int check_token(struct MHD_Connection *conn, char *user, size_t cap)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	const char *tok = h + 7;
	for (size_t i = 0; i < ntokens; i++)
		if (same_secret(tok, tokens[i].token)) {
			snprintf(user, cap, "%s", tokens[i].user);
			return 1;
		}
	return 0;
}

static int check_cert(struct MHD_Connection *conn, char *user, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return 0;
	gnutls_session_t session = (gnutls_session_t)ci->tls_session;
	unsigned int n = 0, status = 1;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
	if (!certs || n == 0 || gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS ||
	    status)
		return 0;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) == GNUTLS_E_SUCCESS) {
		size_t len = cap;
		if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) != GNUTLS_E_SUCCESS ||
		    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, user, &len) !=
		        GNUTLS_E_SUCCESS)
			snprintf(user, cap, "unknown");
		gnutls_x509_crt_deinit(crt);
	}
	return 1;
}

int sbx_auth_check(struct MHD_Connection *conn, char *user, size_t cap)
{
	return check_cert(conn, user, cap) || check_token(conn, user, cap);
}
