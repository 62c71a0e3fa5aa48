/* rewrite_access.c: before any write, may the client list, get and update every resource in every scope
 * of a rewrite? One SelfSubjectAccessReview per verb, resource and scope (rk_kube_can_i); the rewrite and
 * a rotation's preflight ask it. */
#include <stdio.h>

#include "rekey/log.h"
#include "rekey/rewrite.h"

/* One verb: RK_OK allowed (or *unknown: the apiserver cannot say), RK_UNSAFE naming it when denied. */
static int check_one(rk_kube *k, const rk_kube_resource *res, const char *verb, const char *scope,
                     int *unknown, rk_err *err)
{
	int allowed = 0;
	char reason[512], name[sizeof res->resource + sizeof res->group + 1];
	if (rk_kube_can_i(k, verb, res->group, res->resource, scope, &allowed, reason, sizeof reason, err) !=
	    RK_OK)
		return err->code;
	if (allowed < 0) {
		rk_warn("rewrite.access", "permissions not checked: %s", reason);
		*unknown = 1;
		return RK_OK;
	}
	if (allowed)
		return RK_OK;
	snprintf(name, sizeof name, "%s%s%s", res->resource, res->group[0] ? "." : "", res->group);
	return rk_err_set(err, RK_UNSAFE,
	                  "permission denied before any write: the client may not %s %s (%s%s)%s%s; grant it "
	                  "(examples/k8s/rbac-rewrite.yaml)",
	                  verb, name, scope[0] ? "namespace " : "all namespaces", scope,
	                  reason[0] ? ": " : "", reason);
}

int rk_rewrite_check_access(rk_kube *k, const char *const *resources, size_t nres,
                            const char *const *namespaces, size_t nns, rk_err *err)
{
	static const char *const verbs[] = {"list", "get", "update"};
	int unknown = 0;
	for (size_t r = 0; r < nres; r++) {
		rk_kube_resource res;
		if (rk_kube_discover(k, resources[r], &res, err) != RK_OK)
			return err->code;
		for (size_t s = 0; s < (nns ? nns : 1) && !unknown; s++)
			for (size_t v = 0; v < sizeof verbs / sizeof verbs[0] && !unknown; v++)
				if (check_one(k, &res, verbs[v], nns ? namespaces[s] : "", &unknown, err) !=
				    RK_OK)
					return err->code;
		if (unknown)
			return RK_OK; /* the apiserver cannot say: logged once */
	}
	return RK_OK;
}
