/* test_tz.c: zone times from TZif files and POSIX rules (src/util/tz.c) agree with glibc's localtime_r
 * (asked here with TZ set, in the test's own process) for zones east and west, half and quarter hours,
 * southern daylight saving, abolished daylight saving, around transitions, and far into the future where
 * only the file's POSIX footer speaks; and the environment is never touched by the library. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rekey/tz.h"

static const char *const zones[] = {"Europe/Berlin",
                                    "America/New_York",
                                    "Australia/Sydney",
                                    "Asia/Kolkata",
                                    "America/St_Johns",
                                    "Pacific/Chatham",
                                    "Europe/London",
                                    "America/Sao_Paulo",
                                    "Africa/Casablanca",
                                    "Asia/Tehran",
                                    "UTC",
                                    "Pacific/Kiritimati"};

static void expect_same(const struct tm *got, const struct tm *want, const char *zone, time_t t)
{
	ck_assert_msg(
	    got->tm_year == want->tm_year && got->tm_mon == want->tm_mon && got->tm_mday == want->tm_mday &&
	        got->tm_hour == want->tm_hour && got->tm_min == want->tm_min && got->tm_sec == want->tm_sec &&
	        got->tm_wday == want->tm_wday && got->tm_gmtoff == want->tm_gmtoff,
	    "%s at %lld: got %04d-%02d-%02d %02d:%02d (%+ld), glibc %04d-%02d-%02d %02d:%02d (%+ld)", zone,
	    (long long)t, got->tm_year + 1900, got->tm_mon + 1, got->tm_mday, got->tm_hour, got->tm_min,
	    got->tm_gmtoff, want->tm_year + 1900, want->tm_mon + 1, want->tm_mday, want->tm_hour,
	    want->tm_min, want->tm_gmtoff);
}

/* Every 3 days, 7 hours and 11 seconds (so every hour of the day comes up) from `from` to 2110 (a
 * file's transitions end in 2037; its footer takes over). */
static void compare_zone(const rk_tz *tz, const char *zone, const char *tz_env, time_t from)
{
	setenv("TZ", tz_env, 1);
	tzset();
	for (time_t t = from; t < 4417977600; t += 284411) {
		struct tm got, want;
		ck_assert_int_eq(rk_tz_localtime(tz, t, &got), 0);
		localtime_r(&t, &want);
		expect_same(&got, &want, zone, t);
	}
}

START_TEST(tzif_files_agree_with_glibc)
{
	const char *zone = zones[_i];
	rk_tz *tz = NULL;
	rk_err err;
	ck_assert_msg(rk_tz_load(zone, &tz, &err) == RK_OK, "%s", err.msg);
	char env[128];
	snprintf(env, sizeof env, ":%s", !strcmp(zone, "UTC") ? "Etc/UTC" : zone);
	compare_zone(tz, zone, env, -631152000 /* 1950 */);
	rk_tz_free(tz);
}
END_TEST

/* Second by second across the March and October switches of 2026 in Berlin and Sydney. */
START_TEST(switch_instants_exact)
{
	const struct {
		const char *zone;
		time_t at;
	} switches[] = {{"Europe/Berlin", 1774746000},
	                {"Europe/Berlin", 1792890000},
	                {"Australia/Sydney", 1775318400},
	                {"Australia/Sydney", 1791043200}};
	for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++) {
		rk_tz *tz = NULL;
		rk_err err;
		ck_assert_int_eq(rk_tz_load(switches[i].zone, &tz, &err), RK_OK);
		char env[64];
		snprintf(env, sizeof env, ":%s", switches[i].zone);
		setenv("TZ", env, 1);
		tzset();
		for (time_t t = switches[i].at - 7200; t < switches[i].at + 7200; t++) {
			struct tm got, want;
			rk_tz_localtime(tz, t, &got);
			localtime_r(&t, &want);
			expect_same(&got, &want, switches[i].zone, t);
		}
		rk_tz_free(tz);
	}
}
END_TEST

/* POSIX rules alone (what a slim TZif file leaves to its footer), including J and n day forms,
 * explicit times, negative and >24 hour rule times (RFC 8536), southern rules and quoted names. */
START_TEST(posix_rules_agree_with_glibc)
{
	const char *const rules[] = {"CET-1CEST,M3.5.0,M10.5.0/3",   "EST5EDT,M3.2.0,M11.1.0",
	                             "AEST-10AEDT,M10.1.0,M4.1.0/3", "<+0530>-5:30",
	                             "NST3:30NDT,M3.2.0,M11.1.0",    "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
	                             "XXX3YYY,J60/1,J300/2",         "XXX-2YYY-3,59/1,300/25",
	                             "IST-1GMT0,M10.5.0,M3.5.0/1",   "UTC0"};
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		rk_tz *tz = NULL;
		rk_err err;
		ck_assert_msg(rk_tz_from_rule(rules[i], &tz, &err) == RK_OK, "%s: %s", rules[i], err.msg);
		compare_zone(tz, rules[i], rules[i], 0 /* glibc applies rules from 1970 on */);
		rk_tz_free(tz);
	}
}
END_TEST

START_TEST(bad_names_and_rules_refused)
{
	rk_tz *tz = NULL;
	rk_err err;
	const char *const names[] = {"Mars/Olympus", "../../etc/passwd", "/etc/localtime", "", "Europe"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		ck_assert_msg(rk_tz_load(names[i], &tz, &err) == RK_BADINPUT, "accepted \"%s\"", names[i]);
		ck_assert_ptr_null(tz);
	}
	const char *const rules[] = {"", "C-1", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-1x"};
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		ck_assert_msg(rk_tz_from_rule(rules[i], &tz, &err) == RK_BADINPUT, "accepted \"%s\"",
		              rules[i]);
}
END_TEST

/* The library never reads or sets TZ: a zone's times do not depend on it and it stays as it was. */
START_TEST(environment_untouched)
{
	setenv("TZ", "America/New_York", 1);
	tzset();
	rk_tz *tz = NULL;
	rk_err err;
	ck_assert_int_eq(rk_tz_load("Asia/Kolkata", &tz, &err), RK_OK);
	struct tm tm;
	ck_assert_int_eq(rk_tz_localtime(tz, 0, &tm), 0);
	ck_assert_int_eq(tm.tm_hour, 5);
	ck_assert_int_eq(tm.tm_min, 30);
	ck_assert_str_eq(getenv("TZ"), "America/New_York");
	rk_tz_free(tz);
}
END_TEST

Suite *tz_suite(void)
{
	Suite *s = suite_create("tz");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, tzif_files_agree_with_glibc, 0, (int)(sizeof zones / sizeof zones[0]));
	tcase_add_test(tc, switch_instants_exact);
	tcase_add_test(tc, posix_rules_agree_with_glibc);
	tcase_add_test(tc, bad_names_and_rules_refused);
	tcase_add_test(tc, environment_untouched);
	suite_add_tcase(s, tc);
	return s;
}
