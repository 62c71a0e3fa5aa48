/* tz.h: local time in a named time zone without touching the process environment (no TZ swapping: the
 * rotation's lease thread runs while maintenance windows are checked). Zones are read from the system's
 * TZif files (/usr/share/zoneinfo/NAME, RFC 8536: version 1 or 2+ data, with the POSIX TZ string of the
 * footer for times after the last transition), as glibc's localtime does. */
#ifndef REKEY_TZ_H
#define REKEY_TZ_H

#include <time.h>

#include "rekey/err.h"

typedef struct rk_tz rk_tz;

/* Loads zone `name` (an IANA name such as Europe/Berlin, or UTC). RK_BADINPUT for a name that is absolute,
 * climbs with "..", or names no readable TZif file. */
int rk_tz_load(const char *name, rk_tz **out, rk_err *err);
void rk_tz_free(rk_tz *tz);

/* The broken-down local time of `when` in tz (tm_gmtoff set, tm_zone NULL); -1 when out of range. */
int rk_tz_localtime(const rk_tz *tz, time_t when, struct tm *out);

/* Parses a POSIX TZ rule string ("CET-1CEST,M3.5.0,M10.5.0/3", "<+0530>-5:30") as a zone. */
int rk_tz_from_rule(const char *rule, rk_tz **out, rk_err *err);

#endif
