/* transport.c: delivers configs to control-plane nodes: local files, SFTP through libcurl, or exec
 * hooks (see transport.h). Key material only travels in file contents, never argv or environment. */
#include "rekey/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rekey/buf.h"
#include "rekey/child.h"
#include "rekey/fsutil.h"
#include "rekey/log.h"
#include "rekey/manifest.h"
#include "transport_internal.h"

struct rk_transport {
	const rk_plan *plan;
	rk_transport_hostkey_hook hostkey_hook;
	void *hostkey_ud;
};

int rk_transport_new(const rk_plan *plan, rk_transport **out, rk_err *err)
{
	*out = calloc(1, sizeof **out);
	if (!*out)
		return rk_err_set(err, RK_FAIL, "out of memory");
	(*out)->plan = plan;
	return RK_OK;
}

void rk_transport_free(rk_transport *t)
{
	free(t);
}

void rk_transport_set_hostkey_hook(rk_transport *t, rk_transport_hostkey_hook hook, void *ud)
{
	t->hostkey_hook = hook;
	t->hostkey_ud = ud;
}

/* ---- exec hooks: sh -c COMMAND with RK_NODE, RK_HOST, RK_CONFIG_PATH, RK_CONFIG_FILE, RK_CONFIG_HASH ----
 */

static void hook_child(const char *command, const rk_plan_node *node, const char *file, const char *hash)
{
	rk_child_own_group();
	setenv("RK_NODE", node->name, 1);
	setenv("RK_HOST", node->host ? node->host : "", 1);
	setenv("RK_CONFIG_PATH", node->config_path, 1);
	if (file)
		setenv("RK_CONFIG_FILE", file, 1);
	if (hash)
		setenv("RK_CONFIG_HASH", hash, 1);
	execl("/bin/sh", "sh", "-c", command, (char *)NULL);
	_exit(127);
}

static int run_hook(const rk_transport *t, const char *what, const char *command, const rk_plan_node *node,
                    const char *file, const char *hash, rk_err *err)
{
	long timeout_ms = t->plan->exec.timeout_ms;
	pid_t pid = fork();
	if (pid < 0)
		return rk_err_set(err, RK_FAIL, "exec %s hook: fork failed: %s", what, strerror(errno));
	if (pid == 0)
		hook_child(command, node, file, hash);
	rk_child child;
	rk_child_start(&child, pid, timeout_ms, 1);
	int status = 0, rc = rk_child_wait(&child, &status);
	if (rc == RK_CHILD_TIMEOUT)
		return rk_err_set(err, RK_FAIL,
		                  "exec %s hook for node %s did not finish within %lds "
		                  "(controlPlane.exec.timeout): its process group was killed",
		                  what, node->name, timeout_ms / 1000);
	if (rc == RK_CHILD_LOST)
		return rk_err_set(err, RK_FAIL,
		                  "exec %s hook for node %s: cannot wait for it (%s): its outcome is unknown",
		                  what, node->name, strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return RK_OK;
	return rk_err_set(err, RK_FAIL, "exec %s hook for node %s failed (%s %d)", what, node->name,
	                  WIFEXITED(status) ? "exit" : "signal",
	                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* A 0600 file in a fresh 0700 directory holding data; *dir and *file malloc'd. */
static int private_temp_file(const char *data, size_t len, char **dir, char **file, rk_err *err)
{
	const char *base = getenv("TMPDIR");
	if (asprintf(dir, "%s/rekeyctl-XXXXXX", base && *base ? base : "/tmp") < 0 || !mkdtemp(*dir))
		return rk_err_set(err, RK_FAIL, "cannot create a private temp directory");
	if (asprintf(file, "%s/enc.yaml", *dir) < 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	return rk_write_file_atomic(*file, data, len, 0, err);
}

static void remove_private_temp(char *dir, char *file)
{
	if (file) {
		FILE *f = fopen(file, "r+");
		if (f) {
			struct stat st;
			if (fstat(fileno(f), &st) == 0) {
				for (off_t i = 0; i < st.st_size; i++)
					fputc(0, f);
			}
			fclose(f);
		}
		unlink(file);
	}
	if (dir)
		rmdir(dir);
	free(file);
	free(dir);
}

static int exec_write(const rk_transport *t, const rk_plan_node *node, const char *data, size_t len,
                      rk_err *err)
{
	char *dir = NULL, *file = NULL;
	int rc = private_temp_file(data, len, &dir, &file, err);
	if (rc == RK_OK)
		rc = run_hook(t, "write", t->plan->exec.write, node, file, NULL, err);
	remove_private_temp(dir, file);
	return rc;
}

/* The read hook copies the node's config into an empty 0600 file we then read. */
static int exec_read(const rk_transport *t, const rk_plan_node *node, char **data, size_t *len, rk_err *err)
{
	char *dir = NULL, *file = NULL;
	int rc = private_temp_file("", 0, &dir, &file, err);
	if (rc == RK_OK)
		rc = run_hook(t, "read", t->plan->exec.read, node, file, NULL, err);
	if (rc == RK_OK)
		rc = rk_read_file(file, data, len, err);
	if (rc == RK_OK && *len == 0) {
		free(*data);
		*data = NULL;
		rc = rk_err_set(err, RK_FAIL, "exec read hook for node %s wrote nothing to $RK_CONFIG_FILE",
		                node->name);
	}
	remove_private_temp(dir, file);
	return rc;
}

/* ---- SFTP through libcurl ---- */

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t read_upload(char *buffer, size_t size, size_t nitems, void *arg)
{
	struct upload *up = arg;
	size_t n = size * nitems;
	if (n > up->len - up->pos)
		n = up->len - up->pos;
	memcpy(buffer, up->data + up->pos, n);
	up->pos += n;
	return n;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return rk_buf_append((rk_buf *)arg, ptr, size * nmemb) == 0 ? size * nmemb : 0;
}

/* One SFTP transfer: its curl handle and its host key check (which the handle points into). */
struct sftp_call {
	CURL *curl;
	rk_buf url;
	char known_hosts[4096];
	tr_hostkey_check check;
};

/* A handle for path on node that checks the host key (never without a known_hosts file). */
static int sftp_open(const rk_transport *t, const rk_plan_node *node, const char *path,
                     struct sftp_call *call, rk_err *err)
{
	const rk_plan_ssh *ssh = &t->plan->ssh;
	memset(call, 0, sizeof *call);
	int rc = tr_known_hosts_path(t->plan, call->known_hosts, sizeof call->known_hosts, err);
	if (rc != RK_OK)
		return rc;
	call->check = (tr_hostkey_check){.node = node->name,
	                                 .host = node->host ? node->host : node->name,
	                                 .port = ssh->port,
	                                 .file = call->known_hosts,
	                                 .trust_on_first_use = ssh->trust_on_first_use,
	                                 .hook = t->hostkey_hook,
	                                 .hook_ud = t->hostkey_ud};
	rk_buf_printf(&call->url, "sftp://%s:%ld%s", call->check.host, ssh->port, path);
	if (!(call->curl = curl_easy_init()))
		return rk_err_set(err, RK_FAIL, "out of memory");
	CURL *curl = call->curl;
	curl_easy_setopt(curl, CURLOPT_URL, rk_buf_cstr(&call->url));
	curl_easy_setopt(curl, CURLOPT_USERNAME, ssh->user);
	curl_easy_setopt(curl, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
	if (ssh->identity_file)
		curl_easy_setopt(curl, CURLOPT_SSH_PRIVATE_KEYFILE, ssh->identity_file);
	curl_easy_setopt(curl, CURLOPT_SSH_KNOWNHOSTS, call->known_hosts);
	curl_easy_setopt(curl, CURLOPT_SSH_KEYFUNCTION, tr_hostkey_callback);
	curl_easy_setopt(curl, CURLOPT_SSH_KEYDATA, &call->check);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
	return RK_OK;
}

/* Runs the transfer and closes the call: a refused host key is RK_UNSAFE, other failures RK_FAIL. */
static int sftp_finish(struct sftp_call *call, const char *what, const rk_plan_node *node, rk_err *err)
{
	CURLcode code = curl_easy_perform(call->curl);
	curl_easy_cleanup(call->curl);
	rk_buf_free(&call->url);
	if (code == CURLE_OK)
		return RK_OK;
	if (call->check.verdict > TR_HOSTKEY_TRUSTED)
		return tr_hostkey_refusal(&call->check, err);
	return rk_err_set(err, RK_FAIL, "sftp %s on node %s: %s", what, node->name, curl_easy_strerror(code));
}

static void sftp_close(struct sftp_call *call)
{
	if (call->curl)
		curl_easy_cleanup(call->curl);
	rk_buf_free(&call->url);
}

static int sftp_read(const rk_transport *t, const rk_plan_node *node, const char *path, char **data,
                     size_t *len, rk_err *err)
{
	rk_buf body = RK_BUF_SECRET;
	struct sftp_call call;
	int rc = sftp_open(t, node, path, &call, err);
	if (rc != RK_OK) {
		sftp_close(&call);
		return rc;
	}
	curl_easy_setopt(call.curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(call.curl, CURLOPT_WRITEDATA, &body);
	rc = sftp_finish(&call, "read", node, err);
	if (rc != RK_OK) {
		rk_buf_wipe_free(&body);
		return rc;
	}
	*len = body.len;
	*data = rk_buf_steal(&body);
	return RK_OK;
}

/* Uploads to .NAME.rekeyctl-tmp (0600) next to PATH, then swaps it in within the same SFTP session.
 * OpenSSH's SFTP v3 rename refuses an existing target (it links, then unlinks) and libcurl has no
 * posix-rename, so the swap is: rename PATH to .NAME.rekeyctl-old, rename the upload to PATH, remove
 * the old copy. The file is never partial; for the few milliseconds between the renames PATH is absent
 * (an apiserver starting exactly then would fail and be restarted by the kubelet), and a crash there
 * leaves both copies for the resumed run, which uploads again. */
static int sftp_write(const rk_transport *t, const rk_plan_node *node, const char *path, const char *data,
                      size_t len, rk_err *err)
{
	const char *slash = strrchr(path, '/');
	if (path[0] != '/' || !slash) /* the plan loader refuses these; never build a name from NULL */
		return rk_err_set(err, RK_BADINPUT, "sftp write on node %s: \"%s\" is not an absolute path",
		                  node->name, path);
	rk_buf tmp = RK_BUF_INIT, old = RK_BUF_INIT, cmd = RK_BUF_INIT;
	rk_buf_printf(&tmp, "%.*s/.%s.rekeyctl-tmp", (int)(slash - path), path, slash + 1);
	rk_buf_printf(&old, "%.*s/.%s.rekeyctl-old", (int)(slash - path), path, slash + 1);
	struct sftp_call call;
	int rc = sftp_open(t, node, rk_buf_cstr(&tmp), &call, err);
	struct curl_slist *post = NULL;
	/* a leading '*' lets a command fail without failing the transfer (the target may not exist yet) */
	rk_buf_printf(&cmd, "*rm %s", rk_buf_cstr(&old));
	post = curl_slist_append(post, rk_buf_cstr(&cmd));
	rk_buf_reset(&cmd);
	rk_buf_printf(&cmd, "*rename %s %s", path, rk_buf_cstr(&old));
	post = curl_slist_append(post, rk_buf_cstr(&cmd));
	rk_buf_reset(&cmd);
	rk_buf_printf(&cmd, "rename %s %s", rk_buf_cstr(&tmp), path);
	post = curl_slist_append(post, rk_buf_cstr(&cmd));
	rk_buf_reset(&cmd);
	rk_buf_printf(&cmd, "*rm %s", rk_buf_cstr(&old));
	post = curl_slist_append(post, rk_buf_cstr(&cmd));
	struct upload up = {data, len, 0};
	if (rc == RK_OK && !post)
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	if (rc == RK_OK) {
		CURL *curl = call.curl;
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
		curl_easy_setopt(curl, CURLOPT_READDATA, &up);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(curl, CURLOPT_NEW_FILE_PERMS, 0600L);
		curl_easy_setopt(curl, CURLOPT_POSTQUOTE, post);
		rc = sftp_finish(&call, "write", node, err);
	} else {
		sftp_close(&call);
	}
	curl_slist_free_all(post);
	rk_buf_free(&tmp);
	rk_buf_free(&old);
	rk_buf_free(&cmd);
	return rc;
}

/* ---- dispatch ---- */

static int read_path(rk_transport *t, const rk_plan_node *node, const char *path, char **data, size_t *len,
                     rk_err *err)
{
	if (t->plan->access == RK_ACCESS_SSH)
		return sftp_read(t, node, path, data, len, err);
	return rk_read_file(path, data, len, err);
}

static int write_path(rk_transport *t, const rk_plan_node *node, const char *path, const char *data,
                      size_t len, int keep_backup, rk_err *err)
{
	if (t->plan->access == RK_ACCESS_SSH)
		return sftp_write(t, node, path, data, len, err);
	return rk_write_file_atomic(path, data, len, keep_backup, err);
}

int rk_transport_read_config(rk_transport *t, const rk_plan_node *node, char **data, size_t *len, rk_err *err)
{
	if (t->plan->access == RK_ACCESS_EXEC)
		return exec_read(t, node, data, len, err);
	return read_path(t, node, node->config_path, data, len, err);
}

int rk_transport_write_config(rk_transport *t, const rk_plan_node *node, const char *data, size_t len,
                              rk_err *err)
{
	if (t->plan->access == RK_ACCESS_EXEC)
		return exec_write(t, node, data, len, err);
	return write_path(t, node, node->config_path, data, len, 1, err);
}

static int bump_manifest(rk_transport *t, const rk_plan_node *node, const char *config_hash, rk_err *err)
{
	const char *path = node->manifest_path;
	if (!path)
		return rk_err_set(err, RK_BADINPUT, "reload restart needs a manifestPath for node %s",
		                  node->name);
	char *manifest = NULL, *updated = NULL, *current = NULL;
	size_t len = 0, updated_len = 0;
	int rc = read_path(t, node, path, &manifest, &len, err);
	if (rc == RK_OK)
		rc = rk_manifest_get_annotation(manifest, len, path, RK_MANIFEST_HASH_ANNOTATION, &current,
		                                err);
	if (rc == RK_OK && current && !strcmp(current, config_hash)) {
		rk_info("manifest.unchanged", "node %s already runs config %s", node->name, config_hash);
	} else if (rc == RK_OK) {
		rc = rk_manifest_set_annotation(manifest, len, path, RK_MANIFEST_HASH_ANNOTATION, config_hash,
		                                &updated, &updated_len, err);
		/* No backup next to a static-pod manifest: the kubelet would run it as a second pod. */
		if (rc == RK_OK)
			rc = write_path(t, node, path, updated, updated_len, 0, err);
		if (rc == RK_OK)
			rk_info("manifest.bumped", "node %s: %s set to %s", node->name,
			        RK_MANIFEST_HASH_ANNOTATION, config_hash);
	}
	free(manifest);
	free(updated);
	free(current);
	return rc;
}

int rk_transport_pickup(rk_transport *t, const rk_plan_node *node, const char *config_hash, rk_err *err)
{
	if (t->plan->access == RK_ACCESS_EXEC)
		return t->plan->exec.restart
		           ? run_hook(t, "restart", t->plan->exec.restart, node, NULL, config_hash, err)
		           : RK_OK;
	if (t->plan->reload == RK_RELOAD_AUTOMATIC)
		return RK_OK;
	return bump_manifest(t, node, config_hash, err);
}
