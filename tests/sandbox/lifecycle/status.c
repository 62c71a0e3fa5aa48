/* status.c: `rekey-sandbox status --dir D [-o json]`: whether etcd, the kubelet and each apiserver
 * run, their URLs, whether each apiserver answers /readyz, each node's config hash (sha256 of its
 * enc.yaml bytes, as last_config_info reports it) and its mirror pod's config hash and Ready state. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static void file_hash(const char *path, char out[72])
{
	size_t len = 0;
	char *data = lc_read_text(path, &len);
	if (!data) {
		snprintf(out, 72, "-");
		return;
	}
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	free(data);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* The mirror pod's config hash and Ready status, from etcd. */
static void mirror_state(const lc_info *info, const char *node, json_t *out)
{
	json_t *pod = lc_mirror_pod(info, node);
	json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	json_t *cond = json_array_get(json_object_get(json_object_get(pod, "status"), "conditions"), 0);
	json_t *cs = json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0);
	json_object_set_new(
	    out, "podHash",
	    json_string(pod ? json_string_value(json_object_get(ann, "kubernetes.io/config.hash")) : ""));
	json_object_set_new(
	    out, "podReady",
	    json_boolean(pod && !strcmp(json_string_value(json_object_get(cond, "status")) ?: "", "True")));
	json_object_set_new(out, "restarts",
	                    json_integer(json_integer_value(json_object_get(cs, "restartCount"))));
	json_decref(pod);
}

static json_t *node_status(const lc_info *info, const lc_node *n)
{
	char *pidfile = lc_path("%s/nodes/%s/apiserver.pid", info->dir, n->name);
	char *enc = lc_path("%s/nodes/%s/etc/kubernetes/enc/enc.yaml", info->dir, n->name);
	pid_t pid = lc_read_pid(pidfile);
	int alive = lc_pid_alive(pid, info->dir);
	char hash[72];
	file_hash(enc, hash);
	json_t *out = json_pack("{s:s, s:s, s:i, s:b, s:b, s:s}", "name", n->name, "url", n->url, "pid",
	                        alive ? (int)pid : 0, "alive", alive, "ready",
	                        alive && lc_https_get(info->dir, n->url, "/readyz", 2.0, NULL) == 200,
	                        "configHash", hash);
	mirror_state(info, n->name, out);
	free(pidfile);
	free(enc);
	return out;
}

static json_t *sandbox_status(const lc_info *info)
{
	char *etcd_pid = lc_path("%s/etcd.pid", info->dir), *etcd_marker = lc_path("%s/etcd", info->dir);
	char *kubelet_pid = lc_path("%s/kubelet.pid", info->dir);
	pid_t ep = lc_read_pid(etcd_pid), kp = lc_read_pid(kubelet_pid);
	int etcd_alive = lc_pid_alive(ep, etcd_marker), kubelet_alive = lc_pid_alive(kp, info->dir);
	json_t *nodes = json_array();
	for (size_t i = 0; i < info->nnodes; i++)
		json_array_append_new(nodes, etcd_alive
		                                 ? node_status(info, &info->nodes[i])
		                                 : json_pack("{s:s, s:s, s:b}", "name", info->nodes[i].name,
		                                             "url", info->nodes[i].url, "alive", 0));
	json_t *out = json_pack("{s:s, s:{s:s, s:i, s:b, s:b}, s:{s:i, s:b}, s:s, s:o}", "dir", info->dir,
	                        "etcd", "url", info->etcd_url, "pid", etcd_alive ? (int)ep : 0, "alive",
	                        etcd_alive, "healthy", etcd_alive && lc_etcd_healthy(info->etcd_url),
	                        "kubelet", "pid", kubelet_alive ? (int)kp : 0, "alive", kubelet_alive,
	                        "reload", info->reload, "nodes", nodes);
	free(etcd_pid), free(etcd_marker), free(kubelet_pid);
	return out;
}

static void print_table(json_t *st)
{
	json_t *etcd = json_object_get(st, "etcd"), *kubelet = json_object_get(st, "kubelet");
	printf("etcd     %-8s %s\n",
	       json_is_true(json_object_get(etcd, "healthy")) ? "healthy"
	       : json_is_true(json_object_get(etcd, "alive")) ? "running"
	                                                      : "stopped",
	       json_string_value(json_object_get(etcd, "url")));
	printf("kubelet  %s\n", json_is_true(json_object_get(kubelet, "alive")) ? "running" : "stopped");
	printf("%-6s %-26s %-8s %-6s %-9s %-8s %s\n", "NODE", "URL", "PROCESS", "READY", "POD", "RESTARTS",
	       "CONFIG");
	json_t *n;
	size_t i;
	json_array_foreach(json_object_get(st, "nodes"), i, n)
	{
		const char *hash = json_string_value(json_object_get(n, "configHash"));
		printf("%-6s %-26s %-8s %-6s %-9s %-8lld %s\n", json_string_value(json_object_get(n, "name")),
		       json_string_value(json_object_get(n, "url")),
		       json_is_true(json_object_get(n, "alive")) ? "running" : "down",
		       json_is_true(json_object_get(n, "ready")) ? "yes" : "no",
		       json_is_true(json_object_get(n, "podReady")) ? "Ready" : "NotReady",
		       json_integer_value(json_object_get(n, "restarts")), hash ? hash : "-");
	}
}

int sbx_status_main(int argc, char **argv)
{
	const char *dir = NULL, *output = "table";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc &&
		           (!strcmp(argv[i + 1], "json") || !strcmp(argv[i + 1], "table"))) {
			output = argv[++i];
		} else {
			fprintf(stderr,
			        "rekey-sandbox status: unexpected argument \"%s\" (usage: status --dir D [-o "
			        "json|table])\n",
			        argv[i]);
			return RK_BADINPUT;
		}
	}
	char absdir[4096];
	lc_info info;
	rk_err err;
	if (lc_abs_dir(dir, absdir, &err) || lc_info_load(absdir, &info, &err)) {
		fprintf(stderr, "rekey-sandbox status: %s\n", err.msg);
		return RK_BADINPUT;
	}
	json_t *st = sandbox_status(&info);
	if (!strcmp(output, "json")) {
		char *text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text);
		free(text);
	} else {
		print_table(st);
	}
	json_decref(st);
	return RK_OK;
}
