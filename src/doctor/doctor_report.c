/* doctor_report.c: the doctor's findings: added as the checks run, ordered by severity (critical,
 * warning, ok; the order of the checks kept within one severity), counted and freed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_internal.h"

static const char *const severity_names[] = {"critical", "warning", "ok"};

const char *rk_doctor_severity_name(rk_doctor_severity severity)
{
	return (unsigned)severity <= RK_DOCTOR_OK ? severity_names[severity] : "?";
}

void doc_add(rk_doctor_report *r, rk_doctor_severity sev, const char *subject, const char *check,
             const char *action, const char *fmt, ...)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		rk_doctor_finding *grown = realloc(r->findings, cap * sizeof *grown);
		if (!grown)
			return; /* out of memory: the finding is lost, the run goes on */
		r->findings = grown;
		r->cap = cap;
	}
	rk_doctor_finding *f = &r->findings[r->n++];
	memset(f, 0, sizeof *f);
	f->severity = sev;
	snprintf(f->subject, sizeof f->subject, "%s", subject);
	snprintf(f->check, sizeof f->check, "%s", check);
	snprintf(f->action, sizeof f->action, "%s", action ? action : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof f->message, fmt, ap);
	va_end(ap);
	size_t len = 0;
	for (char *p = f->message; *p; p++, len++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	while (len && f->message[len - 1] == ' ')
		f->message[--len] = 0;
}

/* Stable: a counting pass per severity. */
void doc_sort(rk_doctor_report *r)
{
	if (r->n < 2)
		return;
	rk_doctor_finding *sorted = malloc(r->n * sizeof *sorted);
	if (!sorted)
		return;
	size_t k = 0;
	for (int sev = RK_DOCTOR_CRITICAL; sev <= RK_DOCTOR_OK; sev++)
		for (size_t i = 0; i < r->n; i++)
			if ((int)r->findings[i].severity == sev)
				sorted[k++] = r->findings[i];
	free(r->findings);
	r->findings = sorted;
	r->cap = r->n;
}

size_t rk_doctor_count(const rk_doctor_report *report, rk_doctor_severity severity)
{
	size_t n = 0;
	for (size_t i = 0; i < report->n; i++)
		n += report->findings[i].severity == severity;
	return n;
}

void rk_doctor_report_free(rk_doctor_report *report)
{
	if (!report)
		return;
	free(report->findings);
	memset(report, 0, sizeof *report);
}
