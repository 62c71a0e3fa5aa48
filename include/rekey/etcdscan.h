/* etcdscan.h: what is actually stored under which key: scans live etcd (paged KV Range over gRPC, or
 * the v3 JSON gateway when the peer does not speak gRPC) or an `etcdctl snapshot save` file, classifies every
 * value (rk_codec_classify), counts per resource and key, compares with the expected write key (from an
 * EncryptionConfiguration or a plain key name), and with a configuration decrypt-checks every
 * aescbc/aesgcm/secretbox value. Memory stays bounded by the number of distinct (resource, provider, key)
 * rows plus the listed unexpected objects. */
#ifndef REKEY_ETCDSCAN_H
#define REKEY_ETCDSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/buf.h"
#include "rekey/encconfig.h"
#include "rekey/err.h"

/* How a live scan talks to etcd: gRPC, falling back to the JSON gateway when the peer answers but not
 * in gRPC (auto, the default); or only one of them. */
enum rk_etcd_api { RK_ETCD_API_AUTO = 0, RK_ETCD_API_GRPC, RK_ETCD_API_JSON };

struct rk_scan_report;
/* Called after each page of a live scan with the report so far (progress display, tests). */
typedef void (*rk_scan_page_fn)(void *ctx, const struct rk_scan_report *so_far);

typedef struct rk_scan_opts {
	const char *etcd_url;            /* live source: http(s)://host:port of etcd's client URL */
	const char *cacert, *cert, *key; /* TLS files for etcd_url (optional) */
	int etcd_api;                    /* enum rk_etcd_api */
	rk_scan_page_fn on_page;         /* optional */
	void *page_ctx;
	const char *snapshot_path;    /* offline source (exactly one of etcd_url / snapshot_path) */
	const char *prefix;           /* NULL = "/registry/" */
	const char *const *resources; /* filter: "secrets", "deployments.apps", "*.", "*.apps"; none = all */
	size_t nresources;
	const rk_encconfig
	    *config;               /* expected = the write key of the rule for each resource; decrypt-check */
	const char *config_path;   /* or: load (and validate) that EncryptionConfiguration as `config` */
	const char *expect;        /* or: every value must be under this key name ("identity" allowed) */
	const char *expect_key_id; /* with config or expect: a kms v2 value under the expected provider
	                              must also carry this keyID (a KEK rotation's check) */
	/* With a config: per rule of it, 1 = its values must be under its write key, 0 = they need only be
	 * readable with the config; a value no rule covers is then only checked for being plaintext. NULL =
	 * every value must be under the write key of its rule (identity when none). */
	const unsigned char *expect_rules;
	size_t list_limit;           /* unexpected objects to list (0 = all) */
	size_t page_limit;           /* live: keys per range request (0 = adaptive to the value sizes seen) */
	const char *forbid;          /* a key (or kms provider) name no value may still use: the prune gate.
	                                Values under it are counted in `forbidden` and listed. */
	int check_archive;           /* list the keys the values need and look each up in the key archive */
	const char *state_dir;       /* check_archive: the archive is STATE/archive (NULL = default state) */
	const char *archive_cluster; /* check_archive: only that cluster's entries (NULL = every cluster) */
} rk_scan_opts;

/* A key the scanned values need, and whether the key archive (keyarchive.h) holds it. */
typedef struct rk_needed_key {
	char provider[16]; /* rk_value_kind_name: "aescbc", "aesgcm", "secretbox", "kms-v1", "kms-v2" */
	char key[256];     /* key name, or kms provider name */
	char key_id[1025]; /* kms v2 keyID */
	uint64_t count;    /* values under it */
	int archived;      /* 1: an entry of that provider and name, whose file matches the fingerprint in
	                      its name, decrypts a value stored under it; 0: none does; -1: kms (the key
	                      lives in the KMS, not in a file) */
	char fingerprint[17];
	char path[4096]; /* the entry that decrypts */
	char note[256];  /* archived == 0: why ("no archive entry", "entry ... does not decrypt") */
} rk_needed_key;

typedef struct rk_scan_row {
	char resource[260]; /* "secrets", "deployments.apps" */
	char provider[16];  /* rk_value_kind_name */
	char key[256];      /* key or kms provider name; "" for identity/malformed */
	char key_id[1025];  /* kms v2 keyID */
	uint64_t count;
	uint64_t decrypt_failed;
	int expected;
} rk_scan_row;

typedef struct rk_scan_item {
	char *etcd_key;
	char *resource;
	char provider[16];
	char key[256];
	char *reason; /* why unexpected: "under aescbc key k1, expected k2", "decrypt failed: ..." */
} rk_scan_item;

typedef struct rk_scan_report {
	char *source; /* URL or snapshot path */
	char *prefix;
	uint64_t total, unexpected, malformed, decrypt_failed, decrypt_checked;
	rk_scan_row *rows;
	size_t nrows;
	rk_scan_item *items; /* first list_limit unexpected objects, in scan order */
	size_t nitems;
	int truncated; /* more unexpected objects than listed */
	int has_expectation;
	uint64_t revision;  /* live: the etcd revision the scan read at */
	uint64_t forbidden; /* values still under opts->forbid */
	char api[8];        /* live: "grpc" or "json", the protocol the scan used */
	/* live: when etcd compacted past `revision` mid-scan, the newest revision the scan moved to (keys
	 * from there on were read at it); 0 otherwise */
	uint64_t revision_moved;
	int archive_checked; /* opts->check_archive: needed[] filled */
	char archive_dir[4200];
	rk_needed_key *needed; /* in the order first met */
	size_t nneeded;
} rk_scan_report;

/* Runs the scan. RK_BADINPUT: bad options, bad URL, unreadable or corrupt snapshot; RK_FAIL: etcd
 * unreachable or an error reply. The report's verdict is separate: rk_scan_verdict. */
int rk_etcdscan_run(const rk_scan_opts *opts, rk_scan_report **out, rk_err *err);
void rk_scan_report_free(rk_scan_report *report);
/* RK_OK when every value is under the expected key, readable and well formed, and none is under the
 * forbidden key; RK_FAIL otherwise. */
int rk_scan_verdict(const rk_scan_report *report);

/* The prune gate (the rotation's verify stage): scans `source` (its etcd_url or snapshot_path, prefix,
 * resources and expect_key_id; its other expectations ignored) for values that pruning `old_key` would leave
 * unreadable: any value still under old_key ("identity" or NULL: none is forbidden) and, when new_key is
 * given, any value not under new_key ("identity" allowed). RK_OK when there is none (*checked = values
 * scanned, may be NULL); RK_UNSAFE naming the first 5 otherwise: "N stored values are not under NEW:
 * /registry/... (why), ..." or, without new_key, "N stored values still under key \"OLD\": /registry/...,
 * ..."; the scan's own error codes when etcd or the snapshot cannot be read. */
int rk_etcdscan_check_prune(const rk_scan_opts *source, const char *old_key, const char *new_key,
                            uint64_t *checked, rk_err *err);

/* The prune gate of a rotation that edits only some rules: scans `source` with the pruned config (the one
 * the nodes will run) and fails when a value of a selected rule (rules[i] = 1) is not under that rule's
 * write key (new_key, named in the message), or when any value at all would not be readable with it (a
 * key dropped from the rule that reads it, an unknown kms provider). RK_UNSAFE naming the first 5
 * ("N stored values are not under NEW or would be unreadable after the prune: /registry/... (why), ...");
 * RK_OK otherwise (*checked = values scanned). */
int rk_etcdscan_check_rules(const rk_scan_opts *source, const rk_encconfig *pruned,
                            const unsigned char *rules, const char *new_key, uint64_t *checked, rk_err *err);

/* 1 for the prefixes kube-apiserver writes without passing through the encryption config (/registry/ranges,
 * /registry/masterleases): they hold plaintext whatever the config says, and verify expects identity. */
int rk_etcd_never_encrypted(const char *resource, const char *group);

/* "/registry/secrets/ns/name" -> resource "secrets", group "" ; "/registry/deployments/..." ->
 * "deployments", "apps" (kube-apiserver keeps its built-in resources under /registry/<resource> whatever
 * their group: the v1.34 table, and its special prefixes controllers, minions, services/specs,
 * services/endpoints, ingress);
 * "/registry/<group.with.dots>/<res>/..." -> res, group (custom resources, apiservices). Returns 0, or -1
 * when the key is not under prefix or has no resource segment. */
int rk_etcd_key_resource(const char *prefix, const uint8_t *key, size_t len, char *resource, size_t rcap,
                         char *group, size_t gcap);

/* Output: JSON document / aligned table (with the first N unexpected objects). */
int rk_scan_report_json(const rk_scan_report *report, rk_buf *out);
int rk_scan_report_table(const rk_scan_report *report, rk_buf *out);

#endif
