/* promapi.c: the kube-apiserver figures the write budget uses, taken from a /metrics scrape: PUT
 * latency of one resource and mutating requests in flight (see include/rekey/promtext.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rekey/promtext.h"

#define DURATION_FAMILY "apiserver_request_duration_seconds"
#define INFLIGHT_METRIC "apiserver_current_inflight_requests"

void rk_prom_apiserver_init(rk_prom_apiserver *scrape, const char *resource, const char *group)
{
	memset(scrape, 0, sizeof *scrape);
	snprintf(scrape->resource, sizeof scrape->resource, "%s", resource ? resource : "");
	snprintf(scrape->group, sizeof scrape->group, "%s", group ? group : "");
	scrape->inflight_mutating = NAN;
	rk_err_clear(&scrape->add_err);
}

int rk_prom_apiserver_on_sample(const rk_prom_sample *sample, void *ud)
{
	rk_prom_apiserver *scrape = ud;
	if (!strcmp(sample->name, INFLIGHT_METRIC)) {
		const char *kind = rk_prom_label_value(sample, "request_kind");
		if (kind && !strcmp(kind, "mutating"))
			scrape->inflight_mutating = sample->value;
		return 0;
	}
	const rk_prom_label put[] = {{"verb", "PUT"},
	                             {"resource", scrape->resource},
	                             {"group", scrape->group},
	                             {"subresource", ""},
	                             {"dry_run", ""}};
	size_t nput = sizeof put / sizeof put[0];
	return rk_prom_histogram_add(&scrape->put, DURATION_FAMILY, put, nput, sample, &scrape->add_err) !=
	       RK_OK;
}

int rk_prom_apiserver_parse(const char *text, size_t len, const char *resource, const char *group,
                            rk_prom_apiserver *scrape, rk_err *err)
{
	rk_prom_apiserver_init(scrape, resource, group);
	int rc = rk_prom_parse(NULL, text, len, rk_prom_apiserver_on_sample, NULL, scrape, err);
	if (scrape->add_err.code != RK_OK) {
		*err = scrape->add_err;
		return scrape->add_err.code;
	}
	return rc;
}

double rk_prom_apiserver_put_p99_ms(const rk_prom_apiserver *later, const rk_prom_apiserver *earlier)
{
	return 1000 * rk_prom_histogram_window_quantile(0.99, &later->put, &earlier->put);
}
