/* info.c: D/sandbox.json, the description of a sandbox written by `up` and read by the other
 * lifecycle subcommands (nodes, ports, etcd URL, reload mode). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

int lc_info_save(const lc_info *info, rk_err *err)
{
	json_t *nodes = json_array();
	for (size_t i = 0; i < info->nnodes; i++)
		json_array_append_new(nodes, json_pack("{s:s, s:i, s:s}", "name", info->nodes[i].name, "port",
		                                       info->nodes[i].port, "url", info->nodes[i].url));
	json_t *root =
	    json_pack("{s:s, s:s, s:s, s:i, s:s, s:f, s:o}", "dir", info->dir, "etcd", info->etcd_url,
	              "reload", info->reload, "reloadPeriod", info->reload_period, "provider", info->provider,
	              "backoffMaxSeconds", info->backoff_max, "nodes", nodes);
	if (info->real) {
		json_object_set_new(root, "real", json_true());
		json_object_set_new(root, "kubeApiserver", json_string(info->kube_apiserver));
		json_object_set_new(root, "etcdProxy", json_string(info->etcd_proxy_url));
	}
	if (info->kms)
		json_object_set_new(root, "kmsSocket", json_string(info->kms_socket));
	if (info->kms > 1)
		json_object_set_new(root, "kmsPlugins", json_integer(info->kms));
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	char *path = lc_path("%s/sandbox.json", info->dir);
	int rc = lc_write_text(path, text, 0600, err);
	free(path);
	free(text);
	return rc;
}

static void copy_str(char *dst, size_t cap, json_t *v)
{
	snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int lc_info_load(const char *dir, lc_info *info, rk_err *err)
{
	memset(info, 0, sizeof *info);
	char *path = lc_path("%s/sandbox.json", dir);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) {
		rk_err_set(err, RK_BADINPUT, "%s: not a sandbox (run `rekey-sandbox up --dir %s` first): %s",
		           path, dir, jerr.text);
		free(path);
		return RK_BADINPUT;
	}
	free(path);
	snprintf(info->dir, sizeof info->dir, "%s", dir);
	copy_str(info->etcd_url, sizeof info->etcd_url, json_object_get(root, "etcd"));
	copy_str(info->reload, sizeof info->reload, json_object_get(root, "reload"));
	copy_str(info->provider, sizeof info->provider, json_object_get(root, "provider"));
	info->real = json_is_true(json_object_get(root, "real"));
	copy_str(info->kube_apiserver, sizeof info->kube_apiserver, json_object_get(root, "kubeApiserver"));
	copy_str(info->etcd_proxy_url, sizeof info->etcd_proxy_url, json_object_get(root, "etcdProxy"));
	copy_str(info->kms_socket, sizeof info->kms_socket, json_object_get(root, "kmsSocket"));
	json_t *plugins = json_object_get(root, "kmsPlugins");
	info->kms = !info->kms_socket[0]       ? 0
	            : json_is_integer(plugins) ? (int)json_integer_value(plugins)
	                                       : 1;
	info->reload_period = (int)json_integer_value(json_object_get(root, "reloadPeriod"));
	info->backoff_max = json_number_value(json_object_get(root, "backoffMaxSeconds"));
	json_t *nodes = json_object_get(root, "nodes");
	for (size_t i = 0; i < json_array_size(nodes) && info->nnodes < LC_MAX_NODES; i++) {
		lc_node *n = &info->nodes[info->nnodes++];
		json_t *node = json_array_get(nodes, i);
		copy_str(n->name, sizeof n->name, json_object_get(node, "name"));
		copy_str(n->url, sizeof n->url, json_object_get(node, "url"));
		n->port = (int)json_integer_value(json_object_get(node, "port"));
	}
	json_decref(root);
	return RK_OK;
}

const lc_node *lc_info_node(const lc_info *info, const char *name)
{
	for (size_t i = 0; i < info->nnodes; i++)
		if (!strcmp(info->nodes[i].name, name))
			return &info->nodes[i];
	return NULL;
}
