/* faults.c: loads faults.json (see faults.h) with jansson, caching it between stats. */
#include "faults.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "apiserver_util.h"
#include "rekey/log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char path[4096];
static sbx_faults current;
static struct stat last_st;

static void defaults(sbx_faults *f)
{
	memset(f, 0, sizeof *f);
	f->error_code = 503;
	f->retry_after_seconds = 1;
}

static double num(json_t *obj, const char *name, double dflt)
{
	json_t *v = json_object_get(obj, name);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

static void load(void)
{
	sbx_faults f;
	defaults(&f);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j) {
		struct stat st;
		if (stat(path, &st) == 0)
			rk_warn("faults.bad", "%s:%d:%d: %s (faults unchanged)", path, jerr.line, jerr.column,
			        jerr.text);
		else
			current = f;
		return;
	}
	f.latency_ms = (long)num(j, "latencyMs", 0);
	f.jitter_ms = (long)num(j, "jitterMs", 0);
	f.error_ratio = num(j, "errorRatio", 0);
	f.error_code = (int)num(j, "errorCode", 503);
	f.throttle_ratio = num(j, "throttleRatio", 0);
	f.retry_after_seconds = (int)num(j, "retryAfterSeconds", 1);
	f.max_inflight = (int)num(j, "maxInflight", 0);
	f.fail_start = json_is_true(json_object_get(j, "failStart"));
	const char *deny = json_string_value(json_object_get(j, "denyLabel"));
	snprintf(f.deny_label, sizeof f.deny_label, "%s", deny ? deny : "");
	const char *verb = json_string_value(json_object_get(j, "errorVerb"));
	const char *prefix = json_string_value(json_object_get(j, "errorPath"));
	snprintf(f.error_verb, sizeof f.error_verb, "%s", verb ? verb : "");
	snprintf(f.error_path, sizeof f.error_path, "%s", prefix ? prefix : "");
	json_decref(j);
	current = f;
	rk_info(
	    "faults.loaded",
	    "latency %ldms jitter %ldms errorRatio %.3f (%d, verb \"%s\", path \"%s\") throttleRatio %.3f "
	    "maxInflight %d denyLabel \"%s\"",
	    f.latency_ms, f.jitter_ms, f.error_ratio, f.error_code, f.error_verb, f.error_path,
	    f.throttle_ratio, f.max_inflight, f.deny_label);
}

void sbx_faults_init(const char *p)
{
	pthread_mutex_lock(&lock);
	snprintf(path, sizeof path, "%s", p);
	defaults(&current);
	memset(&last_st, 0, sizeof last_st);
	if (stat(path, &last_st) == 0)
		load();
	pthread_mutex_unlock(&lock);
}

void sbx_faults_get(sbx_faults *out)
{
	pthread_mutex_lock(&lock);
	/* One stat per request (about a microsecond): a fault written by `rekey-sandbox fault` applies to
	 * the very next request, so tests never race the switch. */
	{
		struct stat st;
		memset(&st, 0, sizeof st);
		int exists = stat(path, &st) == 0;
		if (st.st_mtim.tv_sec != last_st.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != last_st.st_mtim.tv_nsec || st.st_size != last_st.st_size ||
		    st.st_ino != last_st.st_ino) {
			last_st = st;
			if (exists)
				load();
			else
				defaults(&current);
		}
	}
	*out = current;
	pthread_mutex_unlock(&lock);
}
