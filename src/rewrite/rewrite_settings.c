/* rewrite_settings.c: the rewrite engine's settings: the defaults of `rekeyctl rewrite` and of a rotation
 * plan, and their ranges (see include/rekey/rewrite_settings.h). */
#include "rekey/rewrite_settings.h"

#include <string.h>

void rk_rewrite_settings_init(rk_rewrite_settings *s)
{
	memset(s, 0, sizeof *s);
	s->concurrency = 8;
	s->page_size = 500;
	s->batch_size = 200;
	s->budget_window_ms = 60000;
	s->soak_ms = 30000;
	s->budget_errors = -1;
	s->on_breach = RK_BREACH_SLOWDOWN;
	s->budget_throttled = -1;
	s->budget_min_requests = 20;
}

void rk_rewrite_settings_init_rotation(rk_rewrite_settings *s)
{
	rk_rewrite_settings_init(s);
	s->qps = 100;
	s->burst = 200;
	s->budget_p99_ms = 500;
	s->budget_errors = 0.01;
	s->scrape_ms = 5000; /* every apiserver's /metrics: its own p99, 5xx and 429 beside ours */
}

double rk_rewrite_settings_throttled(const rk_rewrite_settings *s)
{
	return s->budget_throttled >= 0 ? s->budget_throttled : s->budget_errors;
}

int rk_rewrite_settings_check(const rk_rewrite_settings *s, rk_err *err)
{
	if (s->qps < 0 || s->burst < 0)
		return rk_err_set(err, RK_BADINPUT, "qps and burst must not be negative");
	if (s->concurrency < 1 || s->concurrency > 1024)
		return rk_err_set(err, RK_BADINPUT, "concurrency must be 1..1024, got %d", s->concurrency);
	if (s->page_size < 1 || s->page_size > 10000)
		return rk_err_set(err, RK_BADINPUT, "page size must be 1..10000, got %d", s->page_size);
	if (s->batch_size < 1 || s->batch_size > 100000)
		return rk_err_set(err, RK_BADINPUT, "batch size must be 1..100000, got %d", s->batch_size);
	if (s->batch_pause_ms < 0 || s->soak_ms < 0 || s->budget_window_ms < 1000 ||
	    s->budget_window_ms > 3600000)
		return rk_err_set(
		    err, RK_BADINPUT,
		    "batch pause and soak must not be negative, the budget window within 1s..1h");
	if (s->scrape_ms < 0 || (s->scrape_ms > 0 && s->scrape_ms < 100) || s->scrape_ms > 600000)
		return rk_err_set(err, RK_BADINPUT,
		                  "scrape interval must be 0 (off) or 100ms..10m, got %ldms", s->scrape_ms);
	if (s->budget_inflight < 0 || (s->budget_inflight > 0 && s->scrape_ms <= 0))
		return rk_err_set(err, RK_BADINPUT,
		                  "an in-flight budget needs --scrape-interval (it is read from /metrics)");
	if (s->budget_p99_ms < 0 || s->budget_errors > 1 || s->budget_throttled > 1)
		return rk_err_set(err, RK_BADINPUT,
		                  "budget p99 must not be negative, error and 429 ratios within 0..1");
	if (s->budget_min_requests < 1 || s->budget_min_requests > 1000000)
		return rk_err_set(err, RK_BADINPUT, "budget minimum requests must be 1..1000000, got %d",
		                  s->budget_min_requests);
	return RK_OK;
}
