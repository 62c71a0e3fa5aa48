/* log.h: structured log lines on stderr, human text on a terminal or JSON lines otherwise. */
#ifndef REKEY_LOG_H
#define REKEY_LOG_H

enum rk_log_level { RK_LOG_DEBUG = 0, RK_LOG_INFO = 1, RK_LOG_WARN = 2, RK_LOG_ERROR = 3 };
enum rk_log_format { RK_LOG_TEXT = 0, RK_LOG_JSON = 1 };

/* Global settings; defaults: INFO, TEXT when stderr is a terminal, JSON otherwise. */
void rk_log_set_level(int level);
int rk_log_get_format(void);

/* Logs one event. `event` is a short machine name ("config.written"); the message is printf-style.
 * Never pass key material. */
void rk_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define rk_info(ev, ...) rk_log(RK_LOG_INFO, ev, __VA_ARGS__)
#define rk_warn(ev, ...) rk_log(RK_LOG_WARN, ev, __VA_ARGS__)
#define rk_error(ev, ...) rk_log(RK_LOG_ERROR, ev, __VA_ARGS__)
#define rk_debug(ev, ...) rk_log(RK_LOG_DEBUG, ev, __VA_ARGS__)

#endif
