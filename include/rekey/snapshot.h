/* snapshot.h: an offline reader for `etcdctl snapshot save` files (a bbolt database): walks the
 * `key` bucket of etcd's MVCC store and yields the live keys (the newest revision of each key,
 * tombstones honoured) without holding values in memory. */
#ifndef REKEY_SNAPSHOT_H
#define REKEY_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "rekey/err.h"

typedef struct rk_snapshot rk_snapshot;

/* One key-value of the MVCC store (mvccpb.KeyValue); pointers into the mapped file. */
typedef struct rk_snap_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
	uint64_t rev_main, rev_sub; /* the bbolt key: revision of this entry */
	int tombstone;
} rk_snap_kv;

/* Return non-zero from a visitor to stop early (the walk then returns that value). */
typedef int (*rk_snap_visit)(void *ctx, const rk_snap_kv *kv);

/* Maps and validates the file: meta pages (magic 0xED0CDAED, version 2, FNV-64a checksum, the newer
 * txid wins), page size, high-water mark within the file, the sha256 trailer etcd appends (when
 * present) and the `key` bucket. Every problem is RK_BADINPUT "PATH: reason". */
int rk_snapshot_open(const char *path, rk_snapshot **out, rk_err *err);
/* The same over a caller-owned buffer (tests, fuzzing); `name` is used in messages. */
int rk_snapshot_open_mem(const uint8_t *data, size_t len, const char *name, rk_snapshot **out, rk_err *err);
void rk_snapshot_close(rk_snapshot *snap);

/* Every entry of the key bucket in bbolt order (ascending revision), tombstones included. */
int rk_snapshot_each_revision(rk_snapshot *snap, rk_snap_visit fn, void *ctx, rk_err *err);

/* The live keys starting with `prefix` (NULL or "" = all): for each key only its newest revision,
 * skipped when that is a tombstone. Two passes over the file: the first records, per key under the
 * prefix, a 64-bit hash of the key and its newest revision in an open-addressing table (24 bytes a
 * slot, at most 50% full: about 48 bytes per distinct key ever written under the prefix in the
 * snapshot's history); the second yields the entries whose revision is that newest one. Values are
 * never copied. Two keys whose 64-bit hashes collide would hide one of them (odds ~n^2/2^65). */
int rk_snapshot_each_live(rk_snapshot *snap, const char *prefix, rk_snap_visit fn, void *ctx, rk_err *err);

typedef struct rk_snapshot_stats {
	uint32_t page_size;
	uint64_t pages; /* high-water mark */
	uint64_t txid;
	uint64_t revisions;   /* entries seen by the last walk */
	uint64_t table_bytes; /* memory of the newest-revision table of the last each_live */
	int has_sha256_trailer;
} rk_snapshot_stats;
void rk_snapshot_get_stats(const rk_snapshot *snap, rk_snapshot_stats *stats);

#endif
