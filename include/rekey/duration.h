/* duration.h: the one duration grammar of rekeyctl, Go's time.ParseDuration: a sequence of decimal
 * numbers, each with an optional fraction and a unit (ns, us or its micro-sign spellings, ms, s, m, h),
 * optionally signed: "3s", "1m30s", "500ms", "1.5h", "-2us"; a bare "0" is allowed. Plans, kms timeouts in an
 * EncryptionConfiguration and command-line flags (`--soak 1m30s`) all read durations with it. */
#ifndef REKEY_DURATION_H
#define REKEY_DURATION_H

/* Nanoseconds; -1 when malformed or too large for 64 bits. */
int rk_go_duration_parse(const char *text, long long *ns);
/* Milliseconds (rounded); -1 when malformed or negative. */
long rk_parse_duration_ms(const char *text);

#endif
