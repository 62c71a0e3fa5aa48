/* fuzz_plan.c: libFuzzer harness for the RotationPlan loader: any bytes must load or fail with a clean
 * error (no crash, no leak, no read past the input); a plan that loads must answer its accessors (node
 * paths, canary, windows at a few instants) without crashing. HOME is set so "~/" paths expand. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_plan(const rk_plan *plan)
{
	for (size_t i = 0; i < plan->nnodes; i++) {
		if (!rk_plan_node_config_path(plan, &plan->nodes[i]))
			abort(); /* a loaded plan has a config path for every node */
		rk_plan_node_manifest_path(plan, &plan->nodes[i]);
	}
	if (!rk_plan_find_node(plan, plan->canary))
		abort(); /* the canary is one of the nodes */
	static const time_t instants[] = {0, 86400 * 3 + 3600 * 2, 1767225600};
	for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
		time_t end;
		rk_plan_in_window(plan, instants[i], &end);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++)
		setenv("HOME", "/home/fuzz", 1);
	rk_plan *plan = NULL;
	rk_err err;
	if (rk_plan_load_buf((const char *)data, size, "fuzz.yaml", &plan, &err) == RK_OK) {
		use_plan(plan);
		rk_plan_free(plan);
	} else if (plan || !err.msg[0] || strchr(err.msg, '\n')) {
		abort(); /* a failure leaves nothing behind and says why in one line */
	}
	return 0;
}
