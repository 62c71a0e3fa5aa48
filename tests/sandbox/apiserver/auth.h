/* auth.h: authentication of the sandbox apiserver: a client certificate that verifies against the CA
 * given to the TLS layer, or a bearer token listed in tokens.csv (token,user,uid,"groups"). */
#ifndef REKEY_SBX_AUTH_H
#define REKEY_SBX_AUTH_H

#include <stddef.h>

#include "rekey/err.h"

struct MHD_Connection;

/* Loads tokens.csv (a missing file = no tokens). */
int sbx_auth_init(const char *tokens_path, rk_err *err);
void sbx_auth_free(void);
/* 1 when authenticated (user name into user), 0 otherwise. */
int sbx_auth_check(struct MHD_Connection *conn, char *user, size_t cap);

#endif
