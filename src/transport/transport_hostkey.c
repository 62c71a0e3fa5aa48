/* transport_hostkey.c: SSH host key checking for the SFTP transport. Every connection is checked
 * against a known_hosts file (the plan's knownHosts, else ~/.ssh/known_hosts): an unknown or changed
 * host key refuses the transfer (RK_UNSAFE). With trustOnFirstUse a host that has no entry yet is
 * trusted once: its key is appended to the file (OpenSSH format, fsynced) and reported to the
 * caller's hook so the fingerprint lands in the audit log. A changed key is never trusted. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "transport_internal.h"

int tr_known_hosts_path(const rk_plan *plan, char *out, size_t cap, rk_err *err)
{
	if (plan->ssh.known_hosts) {
		snprintf(out, cap, "%s", plan->ssh.known_hosts);
		return RK_OK;
	}
	const char *home = getenv("HOME");
	if (!home || home[0] != '/')
		return rk_err_set(err, RK_UNSAFE,
		                  "ssh: no known_hosts file to check host keys against: HOME is not set; set "
		                  "controlPlane.ssh.knownHosts");
	if ((size_t)snprintf(out, cap, "%s/.ssh/known_hosts", home) >= cap)
		return rk_err_set(err, RK_BADINPUT, "ssh: HOME is too long");
	return RK_OK;
}

/* The key type named inside an SSH public key blob (uint32 length + name), e.g. "ssh-ed25519". */
static int blob_key_type(const unsigned char *blob, size_t len, char *out, size_t cap)
{
	if (len < 4)
		return -1;
	size_t n = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > len - 4 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (blob[4 + i] <= ' ' || blob[4 + i] > '~')
			return -1;
	memcpy(out, blob + 4, n);
	out[n] = '\0';
	return 0;
}

/* Base64 of len bytes into a malloc'd string; strip_padding drops trailing '='. */
static char *base64_of(const unsigned char *data, size_t len, int strip_padding)
{
	char *text = malloc(4 * ((len + 2) / 3) + 1);
	if (!text)
		return NULL;
	int n = EVP_EncodeBlock((unsigned char *)text, data, (int)len);
	while (strip_padding && n > 0 && text[n - 1] == '=')
		text[--n] = '\0';
	return text;
}

/* OpenSSH's fingerprint: "SHA256:" + unpadded base64 of sha256(blob). */
static void fingerprint_of(const unsigned char *blob, size_t len, char *out, size_t cap)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char *b64 = NULL;
	if (EVP_Digest(blob, len, digest, &dlen, EVP_sha256(), NULL) == 1)
		b64 = base64_of(digest, dlen, 1);
	snprintf(out, cap, "SHA256:%s", b64 ? b64 : "?");
	free(b64);
}

/* known_hosts names a host on port 22 as "host", any other port as "[host]:port" (OpenSSH). */
static void host_entry_name(const tr_hostkey_check *check, char *out, size_t cap)
{
	if (check->port == 22)
		snprintf(out, cap, "%s", check->host);
	else
		snprintf(out, cap, "[%s]:%ld", check->host, check->port);
}

/* Appends "name type base64" to the known_hosts file (created 0600, its directory 0700), fsynced. */
static int append_known_host(tr_hostkey_check *check, const char *type, const unsigned char *blob, size_t len)
{
	char dir[4096], name[600];
	snprintf(dir, sizeof dir, "%s", check->file);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rk_err ignored;
		if (rk_mkdir_p(dir, 0700, &ignored) != RK_OK)
			return -1;
	}
	char *b64 = base64_of(blob, len, 0);
	if (!b64)
		return -1;
	host_entry_name(check, name, sizeof name);
	int fd = open(check->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	int failed = fd < 0 || dprintf(fd, "%s %s %s\n", name, type, b64) < 0 || fsync(fd) != 0;
	if (fd >= 0)
		failed |= close(fd) != 0;
	free(b64);
	return failed ? -1 : 0;
}

static int trust_first_use(tr_hostkey_check *check, const char *type, const unsigned char *blob, size_t len)
{
	if (append_known_host(check, type, blob, len) != 0) {
		check->saved_errno = errno;
		check->verdict = TR_HOSTKEY_UNRECORDED;
		return CURLKHSTAT_REJECT;
	}
	check->verdict = TR_HOSTKEY_TRUSTED;
	rk_warn("ssh.trust-on-first-use", "node %s: trusted host key %s %s on first use; added to %s",
	        check->node, type, check->fingerprint, check->file);
	if (check->hook)
		check->hook(check->node, check->host, check->port, type, check->fingerprint, check->file,
		            check->hook_ud);
	return CURLKHSTAT_FINE;
}

int tr_hostkey_callback(CURL *easy, const struct curl_khkey *knownkey, const struct curl_khkey *foundkey,
                        enum curl_khmatch match, void *clientp)
{
	(void)easy;
	(void)knownkey;
	tr_hostkey_check *check = clientp;
	const unsigned char *blob = (const unsigned char *)foundkey->key;
	size_t len = foundkey->len; /* libcurl hands the server's key raw (len > 0) */
	char type[64] = "unknown";
	if (len == 0 || blob_key_type(blob, len, type, sizeof type) != 0) {
		check->verdict = TR_HOSTKEY_UNREADABLE;
		return CURLKHSTAT_REJECT;
	}
	fingerprint_of(blob, len, check->fingerprint, sizeof check->fingerprint);
	snprintf(check->key_type, sizeof check->key_type, "%s", type);
	if (match == CURLKHMATCH_OK) {
		check->verdict = TR_HOSTKEY_KNOWN;
		return CURLKHSTAT_FINE;
	}
	if (match == CURLKHMATCH_MISSING && check->trust_on_first_use)
		return trust_first_use(check, type, blob, len);
	check->verdict = match == CURLKHMATCH_MISMATCH ? TR_HOSTKEY_CHANGED : TR_HOSTKEY_UNKNOWN;
	return CURLKHSTAT_REJECT;
}

int tr_hostkey_refusal(const tr_hostkey_check *check, rk_err *err)
{
	char name[600];
	host_entry_name(check, name, sizeof name);
	switch (check->verdict) {
	case TR_HOSTKEY_CHANGED:
		return rk_err_set(
		    err, RK_UNSAFE,
		    "ssh: the host key of node %s (%s) CHANGED: %s %s does not match %s; "
		    "refused (if the host was really re-keyed, check the new fingerprint out of "
		    "band and replace its line)",
		    check->node, name, check->key_type, check->fingerprint, check->file);
	case TR_HOSTKEY_UNKNOWN: {
		char port[32] = "";
		if (check->port != 22)
			snprintf(port, sizeof port, " -p %ld", check->port);
		return rk_err_set(err, RK_UNSAFE,
		                  "ssh: the host key of node %s (%s, %s %s) is not in %s%s: refused; check "
		                  "the fingerprint out of band and add it (ssh-keyscan%s %s >> %s), or set "
		                  "controlPlane.ssh.trustOnFirstUse: true",
		                  check->node, name, check->key_type, check->fingerprint, check->file,
		                  access(check->file, F_OK) == 0 ? "" : " (the file does not exist)", port,
		                  check->host, check->file);
	}
	case TR_HOSTKEY_UNRECORDED:
		return rk_err_set(err, RK_UNSAFE,
		                  "ssh: node %s: cannot record its host key in %s (%s): refused rather than "
		                  "trusting it unrecorded",
		                  check->node, check->file, strerror(check->saved_errno));
	default:
		return rk_err_set(err, RK_UNSAFE,
		                  "ssh: node %s (%s) offered a host key rekeyctl cannot read: "
		                  "refused",
		                  check->node, name);
	}
}
