/* metrics.h: the sandbox apiserver's Prometheus metrics (process-wide registry): request counts and
 * latency histogram, in-flight gauge, storage transformations, encryption-config reload metrics. */
#ifndef REKEY_SBX_METRICS_H
#define REKEY_SBX_METRICS_H

void sbx_metrics_init(const char *apiserver_id_hash);
void sbx_metrics_free(void);

/* One answered request. verb: GET LIST POST PUT PATCH DELETE; resource "" for non-resource paths. */
void sbx_metrics_request(const char *verb, const char *group, const char *resource, const char *scope,
                         int code, double seconds);
/* In-flight gauge by request_kind (readOnly / mutating); returns the new total of that kind. */
int sbx_metrics_inflight(int mutating, int delta);
/* One transformation: type "from_storage" / "to_storage", prefix of the value ("" for identity). */
void sbx_metrics_transform(const char *type, const char *prefix, int ok);
/* Encryption config: a reload attempt (ok = 1 success) and the current config hash. */
void sbx_metrics_reload(int ok);
void sbx_metrics_config_hash(const char *hash);

/* The whole exposition (text format 0.0.4), malloc'd. */
char *sbx_metrics_render(void);

#endif
