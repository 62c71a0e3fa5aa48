/* keyarchive.c: the key archive (see include/rekey/keyarchive.h): one 0600 key file per pruned key,
 * named <percent-encoded name>.<provider>.<fingerprint>.key under STATE/archive/<cluster>/. */
#include "rekey/keyarchive.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rekey/fsutil.h"
#include "rekey/keyfile.h"

int rk_archive_dir(const char *state_dir, char *out, size_t cap, rk_err *err)
{
	if ((size_t)snprintf(out, cap, "%s/archive", state_dir) >= cap)
		return rk_err_set(err, RK_BADINPUT, "%s: state directory path too long", state_dir);
	return RK_OK;
}

static int plain_char(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static void encode_name(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && n + 4 < cap; p++)
		n += (size_t)(plain_char(*p) ? snprintf(out + n, cap - n, "%c", *p)
		                             : snprintf(out + n, cap - n, "%%%02X", *p));
	out[n] = '\0';
}

static int hex_value(int c)
{
	return isdigit(c)             ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

/* Decodes n bytes of an encoded name; -1 when it is not one encode_name could have written. */
static int decode_name(const char *text, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)text[i];
		if (c == '%') {
			if (i + 2 >= n || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0)
				return -1;
			c = hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]);
			i += 2;
		} else if (!plain_char(c)) {
			return -1;
		}
		if (o + 1 >= cap || c == 0)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o ? 0 : -1;
}

static int is_fingerprint(const char *s, size_t n)
{
	if (n != 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

/* "<name>.<provider>.<fp>.key" -> entry fields; -1 when the file name is something else. */
static int parse_entry(const char *file, rk_archived_key *e)
{
	size_t len = strlen(file);
	if (len < 5 || strcmp(file + len - 4, ".key") != 0)
		return -1;
	const char *end = file + len - 4, *fp_dot = NULL, *prov_dot = NULL;
	for (const char *p = end - 1; p >= file && !prov_dot; p--)
		if (*p == '.') {
			if (!fp_dot)
				fp_dot = p;
			else
				prov_dot = p;
		}
	if (!prov_dot || !is_fingerprint(fp_dot + 1, (size_t)(end - fp_dot - 1)))
		return -1;
	snprintf(e->fingerprint, sizeof e->fingerprint, "%.*s", (int)(end - fp_dot - 1), fp_dot + 1);
	snprintf(e->provider, sizeof e->provider, "%.*s", (int)(fp_dot - prov_dot - 1), prov_dot + 1);
	rk_provider_type t = rk_provider_from_name(e->provider);
	if (t != RK_PROV_AESCBC && t != RK_PROV_AESGCM && t != RK_PROV_SECRETBOX)
		return -1;
	return decode_name(file, (size_t)(prov_dot - file), e->name, sizeof e->name);
}

/* Creates dir (0700) and makes its entry in the parent durable. */
static int make_dir(const char *dir, rk_err *err)
{
	int rc = rk_mkdir_p(dir, 0700, err);
	const char *slash = strrchr(dir, '/');
	if (rc == RK_OK && slash && slash != dir) {
		char *parent = strndup(dir, (size_t)(slash - dir));
		rc = parent ? rk_fsync_dir(parent, err) : rk_err_set(err, RK_FAIL, "out of memory");
		free(parent);
	}
	return rc;
}

/* An existing entry must hold the same secret. */
static int same_entry(const char *path, const rk_key *key, rk_err *err)
{
	rk_key have = {0};
	int rc = rk_key_read_file(path, &have, err);
	if (rc == RK_OK && strcmp(have.secret, key->secret) != 0)
		rc = rk_err_set(err, RK_UNSAFE, "%s: the archive already holds another key under this name",
		                path);
	rk_key_clear(&have);
	return rc;
}

int rk_archive_put(const char *archive_dir, const char *cluster, rk_provider_type provider, const rk_key *key,
                   char *path, size_t cap, rk_err *err)
{
	char fp[17], name[800], dir[4096], file[4096];
	if (provider != RK_PROV_AESCBC && provider != RK_PROV_AESGCM && provider != RK_PROV_SECRETBOX)
		return rk_err_set(err, RK_BADINPUT,
		                  "archive: only aescbc, aesgcm and secretbox keys are local");
	if (rk_key_fingerprint(key, fp) != 0)
		return rk_err_set(err, RK_BADINPUT, "archive: key %s is not valid base64", key->name);
	encode_name(key->name, name, sizeof name);
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", archive_dir, cluster) >= sizeof dir ||
	    (size_t)snprintf(file, sizeof file, "%s/%s.%s.%s.key", dir, name, rk_provider_name(provider),
	                     fp) >= sizeof file)
		return rk_err_set(err, RK_BADINPUT, "archive: path too long for key %s", key->name);
	int rc = make_dir(dir, err);
	if (rc == RK_OK)
		rc = access(file, F_OK) == 0 ? same_entry(file, key, err) : rk_key_write_file(file, key, err);
	if (rc == RK_OK && path)
		snprintf(path, cap, "%s", file);
	return rc;
}

static int each_in_cluster(const char *archive_dir, const char *cluster, rk_archive_cb cb, void *ud,
                           rk_err *err)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", archive_dir, cluster);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR
		           ? RK_OK
		           : rk_err_set(err, RK_FAIL, "%s: %s", dir, strerror(errno));
	int rc = RK_OK;
	struct dirent *de;
	while (rc == RK_OK && (de = readdir(d))) {
		rk_archived_key e;
		memset(&e, 0, sizeof e);
		if (parse_entry(de->d_name, &e) != 0)
			continue;
		snprintf(e.cluster, sizeof e.cluster, "%s", cluster);
		if ((size_t)snprintf(e.path, sizeof e.path, "%s/%s", dir, de->d_name) < sizeof e.path)
			rc = cb(&e, ud);
	}
	closedir(d);
	return rc;
}

int rk_archive_each(const char *archive_dir, const char *cluster, rk_archive_cb cb, void *ud, rk_err *err)
{
	if (cluster)
		return each_in_cluster(archive_dir, cluster, cb, ud, err);
	DIR *d = opendir(archive_dir);
	if (!d)
		return errno == ENOENT ? RK_OK
		                       : rk_err_set(err, RK_FAIL, "%s: %s", archive_dir, strerror(errno));
	int rc = RK_OK;
	struct dirent *de;
	while (rc == RK_OK && (de = readdir(d)))
		if (de->d_name[0] != '.')
			rc = each_in_cluster(archive_dir, de->d_name, cb, ud, err);
	closedir(d);
	return rc;
}
