/* transport_internal.h (private): SSH host key checking shared by transport.c and transport_hostkey.c. */
#ifndef REKEY_TRANSPORT_INTERNAL_H
#define REKEY_TRANSPORT_INTERNAL_H

#include <curl/curl.h>

#include "rekey/transport.h"

typedef enum tr_hostkey_verdict {
	TR_HOSTKEY_UNCHECKED = 0, /* the callback did not run (connection failed before) */
	TR_HOSTKEY_KNOWN,         /* in the file, same key */
	TR_HOSTKEY_TRUSTED,       /* not in the file; trusted on first use and recorded */
	TR_HOSTKEY_UNKNOWN,       /* not in the file (or no file) */
	TR_HOSTKEY_CHANGED,       /* in the file with another key */
	TR_HOSTKEY_UNRECORDED,    /* trust on first use, but the file could not be written */
	TR_HOSTKEY_UNREADABLE     /* the server's key blob could not be parsed */
} tr_hostkey_verdict;

/* One connection's host key check: inputs, then what the callback saw. */
typedef struct tr_hostkey_check {
	const char *node, *host;
	long port;
	const char *file; /* known_hosts */
	int trust_on_first_use;
	rk_transport_hostkey_hook hook;
	void *hook_ud;
	tr_hostkey_verdict verdict;
	char key_type[64];
	char fingerprint[64];
	int saved_errno;
} tr_hostkey_check;

/* The known_hosts file: the plan's knownHosts, else $HOME/.ssh/known_hosts (RK_UNSAFE without HOME). */
int tr_known_hosts_path(const rk_plan *plan, char *out, size_t cap, rk_err *err);
/* CURLOPT_SSH_KEYFUNCTION with a tr_hostkey_check as CURLOPT_SSH_KEYDATA. */
int tr_hostkey_callback(CURL *easy, const struct curl_khkey *knownkey, const struct curl_khkey *foundkey,
                        enum curl_khmatch match, void *clientp);
/* RK_UNSAFE naming the node, the host, the key's fingerprint and what to do. */
int tr_hostkey_refusal(const tr_hostkey_check *check, rk_err *err);

#endif
