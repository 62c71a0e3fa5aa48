/* sandbox.h: declarations shared by the two halves of rekey-sandbox (the apiserver process, and the
 * lifecycle half: up/down/status/fault/kubelet/seed/bench-put), plus the lifecycle helpers used by
 * several of its subcommands. The on-disk layout of a sandbox is described in tests/sandbox/README.md. */
#ifndef REKEY_SANDBOX_H
#define REKEY_SANDBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rekey/buf.h"
#include "rekey/err.h"

/* ---- subcommands (argv[0] is the subcommand name) ---- */
int sandbox_apiserver_main(int argc, char **argv); /* the apiserver process (sbx-api half) */
int sbx_up_main(int argc, char **argv);
int sbx_down_main(int argc, char **argv);
int sbx_status_main(int argc, char **argv);
int sbx_fault_main(int argc, char **argv);
int sbx_kubelet_main(int argc, char **argv);
int sbx_seed_main(int argc, char **argv);
int sbx_bench_put_main(int argc, char **argv);

/* Stops every process of the sandbox in dir (kubelet, apiservers, etcd) by pid and waits for them;
 * idempotent. Returns RK_OK when none is left. `quiet` suppresses the per-process lines. */
int lc_down_dir(const char *dir, int quiet);

/* ---- the sandbox description (D/sandbox.json, written by `up`) ---- */
#define LC_MAX_NODES 9

typedef struct lc_node {
	char name[16]; /* cp-1, cp-2, ... */
	int port;      /* apiserver secure port, fixed for the life of the sandbox */
	char url[64];  /* https://127.0.0.1:PORT */
} lc_node;

typedef struct lc_info {
	char dir[4096];            /* absolute path of D */
	char etcd_url[128];        /* http://127.0.0.1:PORT */
	char reload[16];           /* restart | automatic */
	int reload_period;         /* seconds, automatic mode */
	char provider[16];         /* initial provider of enc.yaml */
	double backoff_max;        /* kubelet CrashLoop backoff cap, seconds */
	int real;                  /* 1: every node runs the real kube-apiserver (`up --real`) */
	char kube_apiserver[4096]; /* real mode: absolute path of the kube-apiserver binary */
	char etcd_proxy_url[128];  /* real mode: the delaying proxy in front of etcd the apiservers use */
	int kms;                   /* `up --real --kms`: how many KMS v2 test plugins run (D/kms/, D/kms2/) */
	char kms_socket[108];      /* the first one's socket, D/kms/kms.sock (a unix socket: < 108 bytes) */
	size_t nnodes;
	lc_node nodes[LC_MAX_NODES];
} lc_info;

int lc_info_save(const lc_info *info, rk_err *err);
int lc_info_load(const char *dir, lc_info *info, rk_err *err);
const lc_node *lc_info_node(const lc_info *info, const char *name); /* NULL when unknown */

/* ---- paths, files, processes (lifecycle/util.c) ---- */
/* snprintf into a fresh malloc'd string; aborts on out-of-memory. */
char *lc_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Atomic write (temp file with `mode`, fsync, rename). */
int lc_write_file(const char *path, const void *data, size_t len, unsigned mode, rk_err *err);
int lc_write_text(const char *path, const char *text, unsigned mode, rk_err *err);
/* Whole file, NUL-terminated, malloc'd; NULL when unreadable. */
char *lc_read_text(const char *path, size_t *len);
int lc_mkdirs(const char *path, rk_err *err); /* mkdir -p, 0700 */
/* Reads a pid file: > 0 pid, 0 when absent or unreadable. */
pid_t lc_read_pid(const char *path);
/* 1 when pid runs (not a zombie) and its command line contains `marker` (guards against pid reuse). */
int lc_pid_alive(pid_t pid, const char *marker);
/* SIGTERM, wait up to `timeout` seconds (reaping when it is our child), then SIGKILL and wait.
 * Returns 0 when the process is gone. */
int lc_stop_pid(pid_t pid, const char *marker, double timeout);
int lc_free_port(void); /* a free loopback TCP port, -1 on failure */
double lc_now(void);    /* monotonic seconds */
void lc_sleep_ms(int ms);
void lc_rfc3339(char out[32]); /* current UTC time, 2006-01-02T15:04:05Z */
void lc_uuid(char out[37]);    /* random v4 UUID */
/* Resolves D to an absolute path (D may not exist yet). */
int lc_abs_dir(const char *dir, char out[4096], rk_err *err);
/* The path of this executable (for re-executing subcommands). */
const char *lc_self_exe(void);
/* Runs `argv` detached (double fork, setsid, stdio to log_path or /dev/null); returns the pid of the
 * daemon (read back through a pipe) or -1. */
pid_t lc_spawn_daemon(char *const argv[], const char *log_path);
/* Parses a decimal integer argument in [lo, hi]; RK_BADINPUT with a message naming the flag. */
int lc_parse_long(const char *flag, const char *text, long lo, long hi, long *out, rk_err *err);
int lc_parse_double(const char *flag, const char *text, double lo, double hi, double *out, rk_err *err);

/* ---- stored values (lifecycle/values.c) ---- */
/* A node's EncryptionConfiguration, relative to its root D/nodes/<node>. */
#define LC_ENC_REL "/etc/kubernetes/enc/enc.yaml"
/* plain as an apiserver running the config at config_path stores it for group/resource (the chain of
 * the rule covering it, AAD = key), appended to out. */
int lc_seal_value(const char *config_path, const char *group, const char *resource, const char *key,
                  const void *plain, size_t len, rk_buf *out, rk_err *err);
/* A stored value read with the first node config that reads it (into plain); -1 when none does. */
int lc_open_value(const lc_info *info, const char *group, const char *resource, const char *key,
                  const uint8_t *val, size_t len, rk_buf *plain);

/* ---- TLS client settings for talking to the sandbox's apiservers (CA + admin cert) ---- */
void lc_curl_tls(void *curl, const char *dir);
/* GET url + path with the admin client cert; returns the HTTP status (0 on transport error); the body
 * goes to `body` when non-NULL (malloc'd). */
long lc_https_get(const char *dir, const char *url, const char *path, double timeout, char **body);

/* ---- etcd (etcdgw.c, through librekey's gateway client rekey/etcdgw.h) ---- */
int lc_etcd_put(const char *etcd_url, const char *key, const void *val, size_t len, rk_err *err);
/* Puts only when the key does not exist; *created = 1 when it wrote. */
int lc_etcd_create(const char *etcd_url, const char *key, const void *val, size_t len, int *created,
                   rk_err *err);
/* The mirror pod kube-system/kube-apiserver-<node> as stored in etcd (opened with lc_open_value), NULL
 * when absent or unreadable. */
json_t *lc_mirror_pod(const lc_info *info, const char *node);
int lc_etcd_delete(const char *etcd_url, const char *key, rk_err *err);
int lc_etcd_healthy(const char *etcd_url);

/* Batched parallel writer: puts accumulate into txns of `per_txn` puts, written by `parallel` threads. */
typedef struct lc_etcd_batch lc_etcd_batch;
lc_etcd_batch *lc_etcd_batch_new(const char *etcd_url, int per_txn, int parallel);
int lc_etcd_batch_put(lc_etcd_batch *b, const char *key, const void *val, size_t len, rk_err *err);
/* Flushes, waits for every txn, frees. Returns the first error seen. */
int lc_etcd_batch_finish(lc_etcd_batch *b, long *written, rk_err *err);

/* ---- the pieces of `up` ---- */
int lc_pki_generate(const char *dir, rk_err *err); /* pki.c */
/* etcdproc.c: starts `binary` (NULL: $REKEY_ETCD or /usr/bin/etcd) with its data in D/etcd. */
int lc_etcd_start(const char *dir, const char *binary, char url[128], rk_err *err);
/* etcdproxy.c: starts the delaying TCP proxy in front of etcd (D/etcd-proxy.pid, .url, .log). */
int lc_etcd_proxy_start(const char *dir, const char *upstream, char url[128], rk_err *err);
int sbx_etcd_proxy_main(int argc, char **argv);
int lc_write_node_files(const lc_info *info, rk_err *err); /* nodefiles.c: enc.yaml + manifest */
int lc_write_kubeconfig(const lc_info *info, rk_err *err); /* nodefiles.c */
int lc_write_plan(const lc_info *info, rk_err *err);       /* nodefiles.c */
/* kmsplugin.c: starts `count` instances of `binary serve` (the KMS v2 test plugin), the first on
 * D/kms/kms.sock with its state in D/kms/state.json (D/kms.pid, D/kms/kms.log), the second in D/kms2/
 * (D/kms2.pid); returns once every socket accepts connections. */
int lc_kms_start(lc_info *info, const char *binary, int count, rk_err *err);
/* D/kms + suffix for plugin 1, D/kms<n> + suffix after it ("" the directory, ".pid" the pid file). */
char *lc_kms_path(const char *dir, int n, const char *suffix);
#define LC_MAX_KMS_PLUGINS 2

typedef struct lc_seed_opts {
	long secrets, configmaps, namespaces, bytes;
	long first; /* index of the first object (names secret-%06ld from it) */
} lc_seed_opts;
int lc_seed(const lc_info *info, const lc_seed_opts *opts, rk_err *err); /* seed.c */

/* Decoded manifest (lifecycle/podmanifest.c): parses the YAML file with libyaml into JSON (scalars typed as
 * YAML 1.2 core does) and its canonical text (keys sorted, compact), so whitespace and comments do not change
 * it. raw_hash (optional) gets "sha256:<hex>" of the bytes read. Any out pointer may be NULL. RK_BADINPUT
 * "path:line:col: problem" on bad YAML. */
int lc_manifest_load(const char *path, json_t **pod, char **canonical, char raw_hash[72], rk_err *err);

#endif
