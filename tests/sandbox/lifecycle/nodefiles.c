/* nodefiles.c: the files `up` writes for a sandbox: each node's EncryptionConfiguration (enc.yaml) and
 * static-pod manifest under D/nodes/<node>/ (the node's file-system root), D/kubeconfig and
 * D/plan.yaml (a RotationPlan for rekeyctl). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/buf.h"
#include "rekey/encconfig.h"
#include "rekey/plan.h"
#include "sandbox.h"

#define MANIFEST_REL "/etc/kubernetes/manifests/kube-apiserver.yaml"

/* The EncryptionConfiguration: secrets under one fresh key of `provider` (then identity to read
 * plaintext), or identity only. The text is wiped by the caller. */
static char *enc_yaml(const char *provider)
{
	if (!strcmp(provider, "identity"))
		return lc_path(
		    "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
		    "resources:\n  - resources:\n      - secrets\n    providers:\n      - identity: {}\n");
	rk_key key; /* 32 random bytes named <provider>-<UTC yyyymmddThhmmssZ> */
	rk_err err;
	if (rk_key_generate(NULL, rk_provider_from_name(provider), 32, &key, &err) != RK_OK)
		return NULL;
	char *text =
	    lc_path("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
	            "resources:\n  - resources:\n      - secrets\n    providers:\n"
	            "      - %s:\n          keys:\n            - name: %s\n              secret: %s\n"
	            "      - identity: {}\n",
	            provider, key.name, key.secret);
	rk_key_clear(&key);
	return text;
}

/* The container command: the sandbox's apiserver (`kube-apiserver`, which the kubelet emulation runs
 * as `rekey-sandbox apiserver`), or with --real the real binary by absolute path with the flags a
 * kubeadm manifest has (less the kubelet and front-proxy ones: no kubelet or aggregated API here). */
static char *manifest_command(const lc_info *info, const lc_node *node, const char *root)
{
	const char *reload = strcmp(info->reload, "automatic")
	                         ? ""
	                         : "        - --encryption-provider-config-automatic-reload=true\n";
	if (!info->real)
		return lc_path("        - kube-apiserver\n"
		               "        - --encryption-provider-config=%s" LC_ENC_REL "\n"
		               "        - --secure-port=%d\n        - --etcd-servers=%s\n%s",
		               root, node->port, info->etcd_url, reload);
	const char *d = info->dir;
	return lc_path("        - %s\n        - --advertise-address=127.0.0.1\n"
	               "        - --allow-privileged=true\n        - --authorization-mode=Node,RBAC\n"
	               "        - --bind-address=127.0.0.1\n        - --client-ca-file=%s/pki/ca.crt\n"
	               "        - --disable-admission-plugins=ServiceAccount\n"
	               "        - --enable-admission-plugins=NodeRestriction\n"
	               "        - --enable-bootstrap-token-auth=true\n"
	               "        - --encryption-provider-config=%s" LC_ENC_REL "\n"
	               "        - --endpoint-reconciler-type=none\n        - --etcd-servers=%s\n"
	               "        - --secure-port=%d\n"
	               "        - --service-account-issuer=https://kubernetes.default.svc.cluster.local\n"
	               "        - --service-account-key-file=%s/pki/sa.pub\n"
	               "        - --service-account-signing-key-file=%s/pki/sa.key\n"
	               "        - --service-cluster-ip-range=10.96.0.0/12\n"
	               "        - --tls-cert-file=%s/pki/apiserver.crt\n"
	               "        - --tls-private-key-file=%s/pki/apiserver.key\n"
	               "        - --token-auth-file=%s/pki/tokens.csv\n%s",
	               info->kube_apiserver, d, root, info->etcd_proxy_url, node->port, d, d, d, d, d,
	               reload);
}

/* The real apiserver's test knobs (tests/realcp/README.md), as the container's env: a reload period
 * other than upstream's minute, and with --kms the file D/kms/clock-skew that moves the KMS v2 clock
 * (absent until a test writes a duration there). "" when neither applies. */
static char *manifest_env(const lc_info *info)
{
	char *poll = info->real && info->reload_period != 60
	                 ? lc_path("        - name: REKEY_ENCRYPTION_CONFIG_POLL\n"
	                           "          value: \"%ds\"\n",
	                           info->reload_period)
	                 : lc_path("%s", "");
	char *skew = info->real && info->kms ? lc_path("        - name: REKEY_KMSV2_CLOCK_SKEW_FILE\n"
	                                               "          value: \"%s/kms/clock-skew\"\n",
	                                               info->dir)
	                                     : lc_path("%s", "");
	char *env = *poll || *skew ? lc_path("      env:\n%s%s", poll, skew) : lc_path("%s", "");
	free(poll);
	free(skew);
	return env;
}

static char *manifest_yaml(const lc_info *info, const lc_node *node)
{
	char *root = lc_path("%s/nodes/%s", info->dir, node->name);
	char *command = manifest_command(info, node, root);
	char *env = manifest_env(info);
	char *text =
	    lc_path("# Static pod of the %s apiserver on node %s. The kubelet emulation (rekey-sandbox\n"
	            "# kubelet) restarts the apiserver when the decoded pod changes.\n"
	            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n"
	            "  labels:\n    component: kube-apiserver\n    tier: control-plane\n  annotations:\n"
	            "    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 127.0.0.1:%d\n"
	            "spec:\n  hostNetwork: true\n  priorityClassName: system-node-critical\n  containers:\n"
	            "    - name: kube-apiserver\n      image: registry.k8s.io/kube-apiserver:%s\n"
	            "      command:\n%s%s"
	            "      volumeMounts:\n        - name: enc\n          mountPath: %s/etc/kubernetes/enc\n"
	            "          readOnly: true\n  volumes:\n    - name: enc\n      hostPath:\n"
	            "        path: %s/etc/kubernetes/enc\n        type: DirectoryOrCreate\n",
	            info->real ? "real kube-" : "sandbox's ", node->name, node->port,
	            info->real ? "v1.34.4" : "v1.32.0", command, env, root, root);
	free(command);
	free(env);
	free(root);
	return text;
}

int lc_write_node_files(const lc_info *info, rk_err *err)
{
	char *enc = enc_yaml(info->provider);
	if (!enc)
		return rk_err_set(err, RK_FAIL, "cannot generate a %s key", info->provider);
	int rc = RK_OK;
	for (size_t i = 0; rc == RK_OK && i < info->nnodes; i++) {
		const lc_node *node = &info->nodes[i];
		char *encdir = lc_path("%s/nodes/%s/etc/kubernetes/enc", info->dir, node->name);
		char *mandir = lc_path("%s/nodes/%s/etc/kubernetes/manifests", info->dir, node->name);
		char *encpath = lc_path("%s/nodes/%s" LC_ENC_REL, info->dir, node->name);
		char *manpath = lc_path("%s/nodes/%s" MANIFEST_REL, info->dir, node->name);
		char *portpath = lc_path("%s/nodes/%s/apiserver.port", info->dir, node->name);
		char *port = lc_path("%d\n", node->port);
		char *manifest = manifest_yaml(info, node);
		rc = lc_mkdirs(encdir, err);
		if (!rc)
			rc = lc_mkdirs(mandir, err);
		if (!rc)
			rc = lc_write_text(encpath, enc, 0600, err);
		if (!rc)
			rc = lc_write_text(portpath, port, 0600, err);
		if (!rc)
			rc = lc_write_text(manpath, manifest, 0600, err);
		free(encdir), free(mandir), free(encpath), free(manpath), free(portpath), free(port),
		    free(manifest);
	}
	OPENSSL_cleanse(enc, strlen(enc));
	free(enc);
	return rc;
}

/* The bearer token of D/pki/tokens.csv (first field of its first line), malloc'd; NULL when absent. */
static char *admin_token(const char *dir)
{
	char *path = lc_path("%s/pki/tokens.csv", dir);
	char *text = lc_read_text(path, NULL);
	free(path);
	if (!text)
		return NULL;
	char *token = strndup(text, strcspn(text, ",\n"));
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	return token;
}

int lc_write_kubeconfig(const lc_info *info, rk_err *err)
{
	rk_buf out = RK_BUF_INIT;
	const char *d = info->dir;
	rk_buf_printf(
	    &out, "# kubeconfig of the rekey-sandbox in %s\napiVersion: v1\nkind: Config\nclusters:\n", d);
	rk_buf_printf(
	    &out,
	    "  - name: sandbox\n    cluster:\n      server: %s\n      certificate-authority: %s/pki/ca.crt\n",
	    info->nodes[0].url, d);
	for (size_t i = 0; i < info->nnodes; i++)
		rk_buf_printf(&out,
		              "  - name: sandbox-%s\n    cluster:\n      server: %s\n"
		              "      certificate-authority: %s/pki/ca.crt\n",
		              info->nodes[i].name, info->nodes[i].url, d);
	rk_buf_printf(&out,
	              "users:\n  - name: admin\n    user:\n      client-certificate: %s/pki/admin.crt\n"
	              "      client-key: %s/pki/admin.key\n",
	              d, d);
	char *token = admin_token(d);
	if (token)
		rk_buf_printf(&out, "  - name: admin-token\n    user:\n      token: %s\n", token);
	rk_buf_printf(
	    &out, "contexts:\n  - name: sandbox\n    context:\n      cluster: sandbox\n      user: admin\n");
	if (token)
		rk_buf_append_str(&out, "  - name: sandbox-token\n    context:\n      cluster: sandbox\n"
		                        "      user: admin-token\n");
	if (token)
		OPENSSL_cleanse(token, strlen(token));
	free(token);
	for (size_t i = 0; i < info->nnodes; i++)
		rk_buf_printf(
		    &out,
		    "  - name: sandbox-%s\n    context:\n      cluster: sandbox-%s\n      user: admin\n",
		    info->nodes[i].name, info->nodes[i].name);
	rk_buf_append_str(&out, "current-context: sandbox\n");
	char *path = lc_path("%s/kubeconfig", d);
	int rc = lc_write_text(path, rk_buf_cstr(&out), 0600, err);
	free(path);
	rk_buf_wipe_free(&out);
	return rc;
}

int lc_write_plan(const lc_info *info, rk_err *err)
{
	rk_buf out = RK_BUF_INIT;
	const char *d = info->dir;
	const char *target = info->kms                            ? "kms"
	                     : strcmp(info->provider, "identity") ? info->provider
	                                                          : "aescbc";
	rk_buf_printf(
	    &out,
	    "# RotationPlan for the rekey-sandbox in %s (access local: each node's files live\n"
	    "# under %s/nodes/<node>, named by the per-node configPath and manifestPath).\n"
	    "apiVersion: rekeyctl/v1\nkind: RotationPlan\ncluster: sandbox\nkubeconfig: %s/kubeconfig\n"
	    "context: sandbox\nresources: [secrets]\nprovider: %s\nkeyBackupDir: %s/key-backup\n"
	    "controlPlane:\n  access: local\n  reload: %s\n  canary: %s\n  nodes:\n",
	    d, d, d, target, d, info->reload, info->nodes[0].name);
	for (size_t i = 0; i < info->nnodes; i++) {
		const char *n = info->nodes[i].name;
		rk_buf_printf(&out,
		              "    - name: %s\n      host: 127.0.0.1\n      apiserver: \"%s\"\n"
		              "      configPath: %s/nodes/%s" LC_ENC_REL
		              "\n      manifestPath: %s/nodes/%s" MANIFEST_REL "\n",
		              n, info->nodes[i].url, d, n, d, n);
	}
	rk_buf_printf(&out, "etcd:\n  url: %s\n", info->etcd_url);
	if (info->kms) /* the test plugin of `up --kms`: the plan migrates the sandbox onto it */
		rk_buf_printf(&out,
		              "kms:\n  apiVersion: v2\n  name: sandbox-kms\n  endpoint: unix://%s\n"
		              "  timeout: 3s\n",
		              info->kms_socket);
	rk_buf_append_str(
	    &out, "rewrite: {qps: 1000, burst: 2000, concurrency: 8, pageSize: 500, batchSize: 200}\n"
	          "budget: {writeP99: 500ms, errorRatio: 0.01, window: 10s, soak: 2s, onBreach: slowdown,\n"
	          "         preflightWindow: 2s, minRequests: 10}\n");
	char *path = lc_path("%s/plan.yaml", d);
	int rc = lc_write_text(path, rk_buf_cstr(&out), 0600, err);
	rk_plan *plan = NULL;
	if (rc == RK_OK && rk_plan_load_file(path, &plan, err) != RK_OK) /* rekeyctl must accept it */
		rc = RK_FAIL;
	rk_plan_free(plan);
	free(path);
	rk_buf_free(&out);
	return rc;
}
