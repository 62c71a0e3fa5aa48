/* rewrite_cmd.c: the entry points of `rekeyctl rewrite` and `rekeyctl status`: everything between the
 * parsed flags and the engine (checking them, the kubeconfig, the state db, the cluster name). */
#include <stdio.h>
#include <string.h>

#include "rekey/rewrite.h"
#include "rewrite_internal.h"

int rk_rewrite_cmd(const rk_rewrite_opts *opts, const rk_kubeconfig_opts *kubeconfig, const char *state_dir,
                   const rk_rewrite_hooks *hooks, rk_rewrite_result *result, rk_err *err)
{
	rk_rewrite_opts o = *opts;
	if (result)
		memset(result, 0, sizeof *result);
	if ((opts->cluster ? rk_rewrite_opts_check(&o, err) : rk_rw_check_scope(&o, err)) != RK_OK)
		return err
		    ->code; /* bad values: nothing opened yet (a missing cluster comes from the kubeconfig) */
	rk_kube_config *cfg = NULL;
	rk_store *store = NULL;
	int rc = rk_kubeconfig_load(kubeconfig, &cfg, err);
	if (rc == RK_OK)
		rc = rk_store_open(state_dir, &store, err);
	if (rc == RK_OK) {
		o.cluster = opts->cluster       ? opts->cluster
		            : cfg->context_name ? cfg->context_name
		            : cfg->cluster_name ? cfg->cluster_name
		                                : "in-cluster";
		rc = rk_rewrite_run(&o, store, cfg, hooks, result, err);
	}
	rk_store_close(store);
	rk_kube_config_free(cfg);
	return rc;
}

int rk_rewrite_status_read(const char *state_dir, const char *cluster, int64_t run_id, rk_rewrite_status *st,
                           rk_err *err)
{
	rk_store *store = NULL;
	int found = 0;
	int rc = rk_store_open(state_dir, &store, err);
	if (rc == RK_OK)
		rc = rk_rewrite_status_get(store, cluster, run_id, st, &found, err);
	if (rc == RK_OK && !found)
		rc = rk_err_set(err, RK_BADINPUT, "no rewrite run %s%s in %s", cluster ? "for cluster " : "",
		                cluster ? cluster : "with that id", rk_store_path(store));
	rk_store_close(store);
	return rc;
}
