/* duration.c: the one duration grammar of rekeyctl: Go's time.ParseDuration ("500ms", "30s", "1m30s",
 * "1.5h"), used by EncryptionConfiguration kms timeouts, plans and command-line flags alike. */
#include "rekey/duration.h"

#include <string.h>

static long long unit_ns(const char *unit, size_t len)
{
	static const struct {
		const char *name;
		long long ns;
	} units[] = {{"ns", 1},       {"us", 1000},        {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
	             {"ms", 1000000}, {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strlen(units[i].name) == len && !memcmp(units[i].name, unit, len))
			return units[i].ns;
	return 0;
}

/* One "<number><unit>" element at *p; adds its nanoseconds to *total. */
static int duration_element(const char **p, long double *total)
{
	const char *s = *p;
	long double value = 0, scale = 1;
	int digits = 0;
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		value = value * 10 + (*s - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			value += (*s - '0') * (scale /= 10);
	if (!digits)
		return -1;
	const char *unit = s;
	while (*s && !(*s >= '0' && *s <= '9') && *s != '.')
		s++;
	long long ns = unit_ns(unit, (size_t)(s - unit));
	if (!ns)
		return -1;
	*total += value * ns;
	*p = s;
	return 0;
}

int rk_go_duration_parse(const char *text, long long *ns)
{
	const char *s = text;
	int negative = 0;
	if (!s || !*s)
		return -1;
	if (*s == '-' || *s == '+')
		negative = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -1;
	long double total = 0;
	while (*s)
		if (duration_element(&s, &total) != 0)
			return -1;
	if (total > 9223372036854775807.0L)
		return -1;
	*ns = negative ? -(long long)total : (long long)total;
	return 0;
}

long rk_parse_duration_ms(const char *text)
{
	long long ns = 0;
	if (!text || rk_go_duration_parse(text, &ns) != 0 || ns < 0)
		return -1;
	return (long)((ns + 500000) / 1000000);
}
