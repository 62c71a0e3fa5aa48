/* tz.c: zone times from TZif files and POSIX TZ rules (see include/rekey/tz.h), read-only once loaded so
 * any thread may ask. Facts from RFC 8536 (TZif) and POSIX.1-2017 section 8.3 (the TZ rule syntax, with
 * RFC 8536's extension of rule times to -167..167 hours). */
#include "rekey/tz.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/fsutil.h"

#define ZONEINFO "/usr/share/zoneinfo"

/* One side of a POSIX rule's daylight-saving switch: a day of the year and a local time. */
typedef struct tz_when {
	char kind;   /* 'M' month/week/day, 'J' Julian 1..365 without Feb 29, 'D' zero-based day 0..365 */
	int m, w, d; /* M: month 1..12, week 1..5 (5 = last), weekday 0..6; J/D: d = the day */
	long secs;   /* local time of the switch, seconds after midnight */
} tz_when;

typedef struct tz_rule {
	int valid;
	long std_off, dst_off; /* UTC offsets in seconds (east positive) */
	int has_dst;
	tz_when start, end; /* to daylight (in standard time), back to standard (in daylight time) */
} tz_rule;

struct rk_tz {
	size_t ntrans;
	int64_t *trans; /* transition times, ascending */
	uint8_t *idx;   /* local time type after each transition */
	size_t ntypes;
	int32_t *type_off; /* UTC offset of each local time type */
	tz_rule footer;    /* for times after the last transition (or all, without transitions) */
};

/* ---- POSIX TZ rules ---- */

/* "<...>" or letters: the zone's abbreviation (skipped). */
static const char *skip_name(const char *p)
{
	if (*p == '<') {
		const char *end = strchr(p, '>');
		return end ? end + 1 : NULL;
	}
	const char *s = p;
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh up to max, into seconds. */
static const char *parse_hms(const char *p, int max_hours, long *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	long parts[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*p))
			return NULL;
		long v = 0;
		while (isdigit((unsigned char)*p) && v < 1000)
			v = v * 10 + (*p++ - '0');
		parts[i] = v;
		if (*p != ':' || i == 2)
			break;
		p++;
	}
	if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59)
		return NULL;
	*out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
	return p;
}

static const char *parse_int(const char *p, int lo, int hi, int *out)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	int v = 0;
	while (isdigit((unsigned char)*p) && v <= hi)
		v = v * 10 + (*p++ - '0');
	if (v < lo || v > hi)
		return NULL;
	*out = v;
	return p;
}

/* Mm.w.d, Jn or n, then an optional /time (default 02:00:00). */
static const char *parse_when(const char *p, tz_when *w)
{
	memset(w, 0, sizeof *w);
	w->secs = 7200;
	if (*p == 'M') {
		w->kind = 'M';
		p = parse_int(p + 1, 1, 12, &w->m);
		p = p && *p == '.' ? parse_int(p + 1, 1, 5, &w->w) : NULL;
		p = p && *p == '.' ? parse_int(p + 1, 0, 6, &w->d) : NULL;
	} else if (*p == 'J') {
		w->kind = 'J';
		p = parse_int(p + 1, 1, 365, &w->d);
	} else {
		w->kind = 'D';
		p = parse_int(p, 0, 365, &w->d);
	}
	if (p && *p == '/')
		p = parse_hms(p + 1, 167, &w->secs);
	return p;
}

static int parse_rule(const char *p, tz_rule *r)
{
	memset(r, 0, sizeof *r);
	long off = 0;
	if (!(p = skip_name(p)) || !(p = parse_hms(p, 24, &off)))
		return -1;
	r->std_off = -off; /* POSIX offsets are positive west of Greenwich */
	if (*p) {
		if (!(p = skip_name(p)))
			return -1;
		r->dst_off = r->std_off + 3600;
		if (*p && *p != ',') {
			if (!(p = parse_hms(p, 24, &off)))
				return -1;
			r->dst_off = -off;
		}
		r->has_dst = 1;
		if (*p != ',' || !(p = parse_when(p + 1, &r->start)) || *p != ',' ||
		    !(p = parse_when(p + 1, &r->end)))
			return -1;
	}
	r->valid = *p == '\0';
	return r->valid ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Seconds since the epoch of the switch `w` in year y, as local time at offset `off`. */
static int64_t switch_time(int64_t y, const tz_when *w, long off)
{
	int64_t day;
	if (w->kind == 'J') /* 1..365, February 29 never counted */
		day = days_from_civil(y, 1, 1) + w->d - 1 + (is_leap(y) && w->d >= 60);
	else if (w->kind == 'D')
		day = days_from_civil(y, 1, 1) + w->d;
	else {
		static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		int64_t first = days_from_civil(y, w->m, 1);
		int wday_first = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		int64_t mday = 1 + (w->d - wday_first + 7) % 7 + 7 * (w->w - 1);
		int len = mdays[w->m - 1] + (w->m == 2 && is_leap(y));
		while (mday > len)
			mday -= 7;
		day = first + mday - 1;
	}
	return day * 86400 + w->secs - off;
}

/* The offset a rule gives at t: the switches are those of the year t falls in (local standard time). */
static long rule_offset(const tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	time_t local = (time_t)(t + r->std_off);
	struct tm tm;
	if (!gmtime_r(&local, &tm))
		return r->std_off;
	int64_t y = (int64_t)tm.tm_year + 1900;
	int64_t start = switch_time(y, &r->start, r->std_off);
	int64_t end = switch_time(y, &r->end, r->dst_off);
	int in_dst = start < end ? t >= start && t < end : t >= start || t < end; /* south: over new year */
	return in_dst ? r->dst_off : r->std_off;
}

/* ---- TZif files ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_header {
	int version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_header;

static int read_header(const unsigned char *p, size_t len, tzif_header *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	h->version = p[4] ? p[4] - '0' : 1;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	return h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 100000 ? -1 : 0;
}

/* Size of a data block whose times take `tsize` bytes. */
static size_t block_size(const tzif_header *h, size_t tsize)
{
	return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt + h->leapcnt * (tsize + 4) +
	       h->isstdcnt + h->isutcnt;
}

static int read_block(rk_tz *tz, const tzif_header *h, const unsigned char *p, size_t tsize)
{
	tz->ntrans = h->timecnt;
	tz->ntypes = h->typecnt;
	tz->trans = calloc(h->timecnt + 1, sizeof *tz->trans);
	tz->idx = calloc(h->timecnt + 1, 1);
	tz->type_off = calloc(h->typecnt, sizeof *tz->type_off);
	if (!tz->trans || !tz->idx || !tz->type_off)
		return -1;
	for (size_t i = 0; i < h->timecnt; i++)
		tz->trans[i] = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
	p += h->timecnt * tsize;
	for (size_t i = 0; i < h->timecnt; i++)
		if ((tz->idx[i] = p[i]) >= h->typecnt)
			return -1;
	p += h->timecnt;
	for (size_t i = 0; i < h->typecnt; i++)
		tz->type_off[i] = (int32_t)be32(p + 6 * i);
	return 0;
}

static int parse_tzif(rk_tz *tz, const unsigned char *p, size_t len)
{
	tzif_header h;
	if (read_header(p, len, &h) != 0 || 44 + block_size(&h, 4) > len)
		return -1;
	if (h.version < 2)
		return read_block(tz, &h, p + 44, 4);
	size_t second = 44 + block_size(&h, 4);
	if (read_header(p + second, len - second, &h) != 0 || second + 44 + block_size(&h, 8) > len)
		return -1;
	const unsigned char *data = p + second + 44;
	if (read_block(tz, &h, data, 8) != 0)
		return -1;
	const char *footer = (const char *)data + block_size(&h, 8), *limit = (const char *)p + len;
	if (footer + 1 >= limit || *footer != '\n')
		return 0;
	const char *nl = memchr(footer + 1, '\n', (size_t)(limit - footer - 1));
	if (nl && nl > footer + 1 && nl - footer < 128) {
		char rule[128];
		snprintf(rule, sizeof rule, "%.*s", (int)(nl - footer - 1), footer + 1);
		if (parse_rule(rule, &tz->footer) != 0)
			memset(&tz->footer, 0, sizeof tz->footer);
	}
	return 0;
}

static int valid_name(const char *name)
{
	return *name && name[0] != '/' && !strstr(name, "..") && strlen(name) < 256;
}

int rk_tz_load(const char *name, rk_tz **out, rk_err *err)
{
	*out = NULL;
	if (!strcmp(name, "UTC"))
		return rk_tz_from_rule("UTC0", out, err);
	if (!valid_name(name))
		return rk_err_set(err, RK_BADINPUT, "unknown time zone \"%s\"", name);
	char path[512];
	snprintf(path, sizeof path, "%s/%s", ZONEINFO, name);
	char *data = NULL;
	size_t len = 0;
	rk_err read_err;
	rk_tz *tz = calloc(1, sizeof *tz);
	if (!tz)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = rk_read_file(path, &data, &len, &read_err) == RK_OK &&
	                 parse_tzif(tz, (const unsigned char *)data, len) == 0
	             ? RK_OK
	             : rk_err_set(err, RK_BADINPUT, "unknown time zone \"%s\" (no TZif file %s)", name, path);
	free(data);
	if (rc != RK_OK)
		rk_tz_free(tz);
	else
		*out = tz;
	return rc;
}

int rk_tz_from_rule(const char *rule, rk_tz **out, rk_err *err)
{
	rk_tz *tz = calloc(1, sizeof *tz);
	if (!tz)
		return rk_err_set(err, RK_FAIL, "out of memory");
	if (parse_rule(rule, &tz->footer) != 0) {
		free(tz);
		*out = NULL;
		return rk_err_set(err, RK_BADINPUT, "\"%s\" is not a POSIX TZ rule", rule);
	}
	*out = tz;
	return RK_OK;
}

void rk_tz_free(rk_tz *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->type_off);
	free(tz);
}

/* The UTC offset in force at t. */
static long offset_at(const rk_tz *tz, int64_t t)
{
	if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
		if (tz->footer.valid)
			return rule_offset(&tz->footer, t);
		return tz->ntrans ? tz->type_off[tz->idx[tz->ntrans - 1]] : tz->ntypes ? tz->type_off[0] : 0;
	}
	if (t < tz->trans[0])
		return tz->type_off[0];
	size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->type_off[tz->idx[lo]];
}

int rk_tz_localtime(const rk_tz *tz, time_t when, struct tm *out)
{
	long off = offset_at(tz, (int64_t)when);
	time_t local = when + off;
	if (!gmtime_r(&local, out))
		return -1;
	out->tm_gmtoff = off;
	out->tm_zone = NULL;
	return 0;
}
