/* http.h: the HTTPS front of the sandbox apiserver (libmicrohttpd + gnutls): TLS with the sandbox PKI,
 * authentication, fault injection, in-flight limit, request metrics, then sbx_route(). */
#ifndef REKEY_SBX_HTTP_H
#define REKEY_SBX_HTTP_H

#include "apiserver.h"
#include "rekey/err.h"

/* Listens on 127.0.0.1:srv->port (0 = any free port; srv->port is set to the bound one). Certificates
 * from srv->dir/pki: apiserver.crt/.key (serving), ca.crt (client certificates), tokens.csv. */
int sbx_http_start(sbx_server *srv, rk_err *err);
void sbx_http_stop(sbx_server *srv);

#endif
