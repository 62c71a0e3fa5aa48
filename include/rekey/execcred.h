/* execcred.h: runs a client-go exec credential plugin (client.authentication.k8s.io/v1 and v1beta1)
 * and reads the token or client certificate it prints. Errors are one line naming the plugin, the
 * user and the kubeconfig file, with RK_BADINPUT. */
#ifndef REKEY_EXECCRED_H
#define REKEY_EXECCRED_H

#include <time.h>

#include "rekey/buf.h"
#include "rekey/err.h"
#include "rekey/kubeconfig.h"

typedef struct rk_exec_cred {
	char *token;     /* bearer token, or NULL; wiped on clear */
	rk_buf cert_pem; /* client certificate, empty when the plugin gave a token */
	rk_buf key_pem;  /* client key; wiped on clear */
	time_t expiry;   /* expirationTimestamp, 0 when the credential does not expire */
} rk_exec_cred;

/* Runs cfg->exec (which must be set) with KUBERNETES_EXEC_INFO in its environment and fills out.
 * stdin is the terminal only when interactiveMode allows it and stdin is a terminal. */
int rk_exec_run(const rk_kube_config *cfg, rk_exec_cred *out, rk_err *err);

/* Reads a plugin's stdout (len bytes of text) as the ExecCredential cfg->exec asks for into out (which
 * must be clear). rk_exec_run uses it; the fuzz harness tests/fuzz/fuzz_execcred.c too. */
int rk_exec_cred_parse(const rk_kube_config *cfg, const char *text, size_t len, rk_exec_cred *out,
                       rk_err *err);

/* True while the credential may be used at time now (it has no expiry, or expiry is in the future). */
int rk_exec_cred_valid(const rk_exec_cred *cred, time_t now);

/* Wipes and frees what the credential holds; it can be reused. */
void rk_exec_cred_clear(rk_exec_cred *cred);

/* Parses an RFC 3339 date-time strictly: YYYY-MM-DDThh:mm:ss, an optional fraction (.digits, ignored),
 * then Z or +hh:mm / -hh:mm (T and Z in either case, as RFC 3339 allows; seconds 00-59 and offset hours
 * 00-23 as Go's time.Parse). Returns NULL and sets *out, or a short reason the text is not one. */
const char *rk_parse_rfc3339(const char *text, time_t *out);

#endif
