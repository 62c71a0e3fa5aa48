/* snapshot.c: reads an etcd snapshot (a bbolt file) offline, with every page id, element and length
 * checked against the file before it is touched. Layouts (etcd-io/bbolt internal/common): page header
 * = id u64, flags u16, count u16, overflow u32; meta (after the header) = magic, version, pageSize,
 * flags (u32 each), root bucket {root pgid u64, sequence u64}, freelist u64, pgid (high-water mark)
 * u64, txid u64, checksum u64 = FNV-64a of the meta bytes before it; branch element = pos u32,
 * ksize u32, pgid u64; leaf element = flags u32, pos u32, ksize u32, vsize u32, with pos counted
 * from the element itself; a bucket value = {root pgid, sequence} followed, when root is 0, by an
 * inline leaf page. Integers are little-endian. etcd appends sha256(db) when it streams a snapshot
 * (file size % 512 == 32): checked when present. */
#include "rekey/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rekey/pbwire.h"

#define BOLT_MAGIC 0xED0CDAEDu
#define BOLT_VERSION 2
#define PAGE_HEADER 16
#define ELEM_SIZE 16
#define FLAG_BRANCH 0x01
#define FLAG_LEAF 0x02
#define FLAG_META 0x04
#define BUCKET_LEAF 0x01
#define MAX_DEPTH 64

struct rk_snapshot {
	char *name;
	const uint8_t *data;
	size_t size; /* bytes of the bbolt database (trailer excluded) */
	size_t map_size;
	int mapped; /* the file is mmapped: walked leaf pages are released */
	long os_page;
	uint32_t page_size;
	uint64_t hwm, txid, root_pgid;
	const uint8_t *key_bucket; /* bucket value of `key`: header + maybe an inline page */
	size_t key_bucket_len;
	uint8_t *visited; /* one bit per page: a page reached twice means a corrupt tree */
	rk_snapshot_stats stats;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}
static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int bad(const rk_snapshot *s, rk_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(const rk_snapshot *s, rk_err *err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return rk_err_set(err, RK_BADINPUT, "%s: %s", s->name, msg);
}

static uint64_t fnv64a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A meta page at `off`: 1 when valid (fills page size, hwm, txid, root). */
static int read_meta(const rk_snapshot *s, size_t off, uint32_t *psize, uint64_t *hwm, uint64_t *txid,
                     uint64_t *root)
{
	if (off + PAGE_HEADER + 64 > s->size)
		return 0;
	const uint8_t *p = s->data + off;
	const uint8_t *m = p + PAGE_HEADER;
	if (le16(p + 8) != FLAG_META || le32(m) != BOLT_MAGIC || le32(m + 4) != BOLT_VERSION)
		return 0;
	if (le64(m + 56) != fnv64a(m, 56))
		return 0;
	*psize = le32(m + 8);
	*root = le64(m + 16);
	*hwm = le64(m + 40);
	*txid = le64(m + 48);
	return 1;
}

static int page_size_ok(uint32_t ps)
{
	return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

static int choose_meta(rk_snapshot *s, rk_err *err)
{
	uint32_t ps0 = 0, ps1 = 0;
	uint64_t hwm0 = 0, hwm1 = 0, tx0 = 0, tx1 = 0, root0 = 0, root1 = 0;
	int ok0 = read_meta(s, 0, &ps0, &hwm0, &tx0, &root0) && page_size_ok(ps0);
	uint32_t guess = ok0 ? ps0 : 4096;
	int ok1 = read_meta(s, guess, &ps1, &hwm1, &tx1, &root1) && ps1 == guess;
	if (!ok0 && !ok1) {
		if (s->size >= PAGE_HEADER + 4 && le32(s->data + PAGE_HEADER) != BOLT_MAGIC)
			return bad(s, err,
			           "not an etcd snapshot (no bbolt magic 0x%x in the first meta page)",
			           BOLT_MAGIC);
		return bad(s, err,
		           "no valid bbolt meta page (checksum or version mismatch, or file of %llu bytes "
		           "too short)",
		           (unsigned long long)s->size);
	}
	int use1 = ok1 && (!ok0 || tx1 > tx0);
	s->page_size = use1 ? ps1 : ps0;
	s->hwm = use1 ? hwm1 : hwm0;
	s->txid = use1 ? tx1 : tx0;
	s->root_pgid = use1 ? root1 : root0;
	if (s->hwm < 3 || s->hwm > s->size / s->page_size)
		return bad(s, err, "truncated: the database has %llu pages but the file holds %llu",
		           (unsigned long long)s->hwm, (unsigned long long)(s->size / s->page_size));
	return RK_OK;
}

/* ---- tree walking ---- */

struct walk {
	rk_snapshot *s;
	rk_err *err;
	/* called for every leaf element; non-zero stops */
	int (*leaf)(struct walk *w, uint32_t flags, const uint8_t *key, size_t klen, const uint8_t *val,
	            size_t vlen);
	void *ctx;
	int stop; /* value returned by a visitor */
};

static int walk_page(struct walk *w, uint64_t pgid, int depth);

static int walk_node(struct walk *w, const uint8_t *page, size_t span, uint64_t pgid, int depth,
                     int is_inline)
{
	if (span < PAGE_HEADER)
		return bad(w->s, w->err, "page %llu: shorter than a page header", (unsigned long long)pgid);
	uint16_t flags = le16(page + 8), count = le16(page + 10);
	if ((uint64_t)PAGE_HEADER + (uint64_t)count * ELEM_SIZE > span)
		return bad(w->s, w->err, "page %llu: %u elements do not fit in the page",
		           (unsigned long long)pgid, count);
	for (uint16_t i = 0; i < count; i++) {
		const uint8_t *e = page + PAGE_HEADER + (size_t)i * ELEM_SIZE;
		uint64_t at = (uint64_t)(e - page);
		if (flags == FLAG_BRANCH && !is_inline) {
			int rc = walk_page(w, le64(e + 8), depth + 1);
			if (rc)
				return rc;
			continue;
		}
		if (flags != FLAG_LEAF)
			return bad(w->s, w->err, "page %llu: unexpected page type 0x%x",
			           (unsigned long long)pgid, flags);
		uint64_t pos = le32(e + 4), klen = le32(e + 8), vlen = le32(e + 12);
		if (at + pos + klen + vlen > span)
			return bad(w->s, w->err, "page %llu: element %u runs past the end of the page",
			           (unsigned long long)pgid, i);
		const uint8_t *key = e + pos;
		int rc = w->leaf(w, le32(e), key, klen, key + klen, vlen);
		if (rc)
			return rc;
	}
	return RK_OK;
}

/* Drops a leaf page of the mapped file from our resident set once walked: memory stays bounded by
 * the tree depth, not the file size (the kernel keeps it in the page cache). */
static void release_page(const rk_snapshot *s, const uint8_t *page, size_t span)
{
	if (s->mapped && le16(page + 8) == FLAG_LEAF && ((uintptr_t)page % (uintptr_t)s->os_page) == 0)
		madvise((void *)page, span, MADV_DONTNEED);
}

static int walk_page(struct walk *w, uint64_t pgid, int depth)
{
	rk_snapshot *s = w->s;
	if (depth > MAX_DEPTH)
		return bad(s, w->err, "page %llu: tree deeper than %d levels", (unsigned long long)pgid,
		           MAX_DEPTH);
	if (pgid < 2 || pgid >= s->hwm)
		return bad(s, w->err, "page id %llu out of range (database has %llu pages)",
		           (unsigned long long)pgid, (unsigned long long)s->hwm);
	const uint8_t *page = s->data + pgid * s->page_size;
	uint64_t overflow = le32(page + 12);
	if (le64(page) != pgid)
		return bad(s, w->err, "page %llu: header names page %llu", (unsigned long long)pgid,
		           (unsigned long long)le64(page));
	if (pgid + overflow + 1 > s->hwm)
		return bad(s, w->err, "page %llu: %llu overflow pages run past the end",
		           (unsigned long long)pgid, (unsigned long long)overflow);
	if (s->visited[pgid / 8] & (1u << (pgid % 8)))
		return bad(s, w->err, "page %llu: reached twice (the tree has a cycle)",
		           (unsigned long long)pgid);
	s->visited[pgid / 8] |= (uint8_t)(1u << (pgid % 8));
	size_t span = (size_t)(overflow + 1) * s->page_size;
	int rc = walk_node(w, page, span, pgid, depth, 0);
	release_page(s, page, span);
	return rc;
}

/* Walks a bucket given its value (header + maybe inline page). */
static int walk_bucket(struct walk *w, const uint8_t *bucket, size_t len)
{
	if (len < 16)
		return bad(w->s, w->err, "bucket header of %zu bytes is too short", len);
	memset(w->s->visited, 0, (size_t)(w->s->hwm / 8 + 1));
	uint64_t root = le64(bucket);
	if (root != 0)
		return walk_page(w, root, 0);
	return walk_node(w, bucket + 16, len - 16, 0, 0, 1);
}

static int find_key_bucket(struct walk *w, uint32_t flags, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen)
{
	if ((flags & BUCKET_LEAF) && klen == 3 && !memcmp(key, "key", 3)) {
		w->s->key_bucket = val;
		w->s->key_bucket_len = vlen;
	}
	return 0;
}

static int locate_key_bucket(rk_snapshot *s, rk_err *err)
{
	struct walk w = {.s = s, .err = err, .leaf = find_key_bucket};
	memset(s->visited, 0, (size_t)(s->hwm / 8 + 1));
	int rc = walk_page(&w, s->root_pgid, 0);
	if (rc)
		return rc;
	if (!s->key_bucket)
		return bad(s, err, "no `key` bucket: not an etcd v3 snapshot");
	return RK_OK;
}

/* sha256 over the database in chunks; a mapped file's chunks leave the resident set once hashed. */
static void hash_database(const rk_snapshot *s, size_t len, uint8_t digest[SHA256_DIGEST_LENGTH])
{
	const size_t chunk = 1u << 20;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t off = 0; ok && off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ok = EVP_DigestUpdate(ctx, s->data + off, n);
		if (s->mapped && n == chunk && off % (size_t)s->os_page == 0)
			madvise((void *)(s->data + off), n, MADV_DONTNEED);
	}
	if (!ok || !EVP_DigestFinal_ex(ctx, digest, NULL))
		memset(digest, 0,
		       SHA256_DIGEST_LENGTH); /* then the comparison fails: reported as a mismatch */
	EVP_MD_CTX_free(ctx);
}

static int check_trailer(rk_snapshot *s, rk_err *err)
{
	if (s->size % 512 != SHA256_DIGEST_LENGTH)
		return RK_OK;
	size_t db = s->size - SHA256_DIGEST_LENGTH;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	hash_database(s, db, digest);
	if (memcmp(digest, s->data + db, sizeof digest) != 0)
		return bad(s, err, "sha256 trailer does not match the %llu bytes of the database",
		           (unsigned long long)db);
	s->size = db;
	s->stats.has_sha256_trailer = 1;
	return RK_OK;
}

static int open_common(rk_snapshot *s, rk_err *err)
{
	int rc = check_trailer(s, err);
	if (!rc)
		rc = choose_meta(s, err);
	if (!rc) {
		s->visited = calloc((size_t)(s->hwm / 8 + 1), 1);
		if (!s->visited)
			rc = rk_err_set(err, RK_FAIL, "out of memory");
	}
	if (!rc)
		rc = locate_key_bucket(s, err);
	s->stats.page_size = s->page_size;
	s->stats.pages = s->hwm;
	s->stats.txid = s->txid;
	return rc;
}

static int snapshot_new(const uint8_t *data, size_t len, const char *name, int mapped, rk_snapshot **out,
                        rk_err *err)
{
	*out = NULL;
	rk_snapshot *s = calloc(1, sizeof *s);
	if (!s || !(s->name = strdup(name ? name : "<snapshot>"))) {
		free(s);
		return rk_err_set(err, RK_FAIL, "out of memory");
	}
	s->data = data;
	s->size = s->map_size = len;
	s->mapped = mapped;
	s->os_page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
	int rc = open_common(s, err);
	if (rc) {
		s->mapped = 0; /* the caller unmaps */
		rk_snapshot_close(s);
		return rc;
	}
	*out = s;
	return RK_OK;
}

int rk_snapshot_open_mem(const uint8_t *data, size_t len, const char *name, rk_snapshot **out, rk_err *err)
{
	return snapshot_new(data, len, name, 0, out, err);
}

int rk_snapshot_open(const char *path, rk_snapshot **out, rk_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rk_err_set(err, RK_BADINPUT, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rk_err_set(err, RK_BADINPUT, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return rk_err_set(err, RK_BADINPUT, "%s: empty file, not an etcd snapshot", path);
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return rk_err_set(err, RK_BADINPUT, "%s: mmap: %s", path, strerror(errno));
	int rc = snapshot_new(map, (size_t)st.st_size, path, 1, out, err);
	if (rc)
		munmap(map, (size_t)st.st_size);
	return rc;
}

void rk_snapshot_close(rk_snapshot *snap)
{
	if (!snap)
		return;
	if (snap->mapped)
		munmap((void *)snap->data, snap->map_size);
	free(snap->visited);
	free(snap->name);
	free(snap);
}

void rk_snapshot_get_stats(const rk_snapshot *snap, rk_snapshot_stats *stats)
{
	*stats = snap->stats;
}

/* ---- the key bucket: revision -> mvccpb.KeyValue ---- */

static int parse_kv(const uint8_t *val, size_t vlen, rk_snap_kv *kv)
{
	rk_pb_reader r;
	rk_pb_field f;
	int rc;
	rk_pb_init(&r, val, vlen);
	while ((rc = rk_pb_next(&r, &f)) == 1) {
		int is_bytes = f.num == 1 || f.num == 5;
		if (f.num <= 6 && (is_bytes ? f.wire != RK_PB_BYTES : f.wire != RK_PB_VARINT))
			return -1;
		switch (f.num) {
		case 1:
			kv->key = f.data, kv->key_len = f.len;
			break;
		case 2:
			kv->create_revision = (int64_t)f.value;
			break;
		case 3:
			kv->mod_revision = (int64_t)f.value;
			break;
		case 4:
			kv->version = (int64_t)f.value;
			break;
		case 5:
			kv->value = f.data, kv->value_len = f.len;
			break;
		case 6:
			kv->lease = (int64_t)f.value;
			break;
		}
	}
	return rc;
}

struct rev_walk {
	rk_snap_visit fn;
	void *ctx;
};

static int on_revision(struct walk *w, uint32_t flags, const uint8_t *key, size_t klen, const uint8_t *val,
                       size_t vlen)
{
	struct rev_walk *rw = w->ctx;
	if (flags & BUCKET_LEAF)
		return bad(w->s, w->err, "nested bucket inside `key`");
	if (!((klen == 17 || (klen == 18 && key[17] == 't')) && key[8] == '_'))
		return bad(w->s, w->err, "`key` bucket holds a key of %zu bytes that is not a revision",
		           klen);
	rk_snap_kv kv;
	memset(&kv, 0, sizeof kv);
	kv.rev_main = be64(key);
	kv.rev_sub = be64(key + 9);
	kv.tombstone = klen == 18;
	if (parse_kv(val, vlen, &kv) != 0 || !kv.key)
		return bad(w->s, w->err, "revision %llu_%llu: value is not a mvccpb.KeyValue",
		           (unsigned long long)kv.rev_main, (unsigned long long)kv.rev_sub);
	w->s->stats.revisions++;
	int rc = rw->fn(rw->ctx, &kv);
	if (rc)
		w->stop = rc;
	return rc;
}

int rk_snapshot_each_revision(rk_snapshot *snap, rk_snap_visit fn, void *ctx, rk_err *err)
{
	struct rev_walk rw = {fn, ctx};
	struct walk w = {.s = snap, .err = err, .leaf = on_revision, .ctx = &rw};
	snap->stats.revisions = 0;
	int rc = walk_bucket(&w, snap->key_bucket, snap->key_bucket_len);
	return w.stop ? w.stop : rc;
}

/* ---- newest revision per key: open-addressing table of key hash -> revision ---- */

struct newest_slot {
	uint64_t hash; /* 0 = empty */
	uint64_t main;
	uint32_t sub;
	uint32_t tombstone;
};

struct newest_table {
	struct newest_slot *slots;
	size_t cap, used;
	const char *prefix;
	size_t prefix_len;
	int oom;
	rk_snap_visit fn; /* second pass */
	void *ctx;
};

static uint64_t key_hash(const uint8_t *p, size_t n)
{
	uint64_t h = fnv64a(p, n);
	h ^= h >> 33; /* finalizer (murmur3) spreads FNV's low bits */
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h ? h : 1;
}

static struct newest_slot *table_find(struct newest_table *t, uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);
	while (t->slots[i].hash && t->slots[i].hash != h)
		i = (i + 1) & (t->cap - 1);
	return &t->slots[i];
}

static int table_grow(struct newest_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct newest_slot *old = t->slots;
	size_t old_cap = t->cap;
	t->slots = calloc(cap, sizeof *t->slots);
	if (!t->slots) {
		t->slots = old;
		return -1;
	}
	t->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].hash)
			*table_find(t, old[i].hash) = old[i];
	free(old);
	return 0;
}

static int under_prefix(const struct newest_table *t, const rk_snap_kv *kv)
{
	return kv->key_len >= t->prefix_len && !memcmp(kv->key, t->prefix, t->prefix_len);
}

static int record_newest(void *ctx, const rk_snap_kv *kv)
{
	struct newest_table *t = ctx;
	if (!under_prefix(t, kv))
		return 0;
	if ((t->used + 1) * 2 > t->cap && table_grow(t) != 0) {
		t->oom = 1;
		return 1;
	}
	struct newest_slot *slot = table_find(t, key_hash(kv->key, kv->key_len));
	if (!slot->hash)
		t->used++;
	slot->hash = key_hash(kv->key, kv->key_len);
	slot->main = kv->rev_main; /* bbolt order is ascending revision: the last one seen wins */
	slot->sub = (uint32_t)kv->rev_sub;
	slot->tombstone = (uint32_t)kv->tombstone;
	return 0;
}

static int yield_newest(void *ctx, const rk_snap_kv *kv)
{
	struct newest_table *t = ctx;
	if (!under_prefix(t, kv) || kv->tombstone)
		return 0;
	const struct newest_slot *slot = table_find(t, key_hash(kv->key, kv->key_len));
	if (slot->main != kv->rev_main || slot->sub != (uint32_t)kv->rev_sub || slot->tombstone)
		return 0;
	return t->fn(t->ctx, kv);
}

int rk_snapshot_each_live(rk_snapshot *snap, const char *prefix, rk_snap_visit fn, void *ctx, rk_err *err)
{
	struct newest_table t = {.prefix = prefix ? prefix : "", .fn = fn, .ctx = ctx};
	t.prefix_len = strlen(t.prefix);
	if (table_grow(&t) != 0)
		return rk_err_set(err, RK_FAIL, "out of memory");
	int rc = rk_snapshot_each_revision(snap, record_newest, &t, err);
	if (t.oom)
		rc = rk_err_set(err, RK_FAIL, "%s: out of memory for %zu keys", snap->name, t.used);
	snap->stats.table_bytes = t.cap * sizeof *t.slots;
	if (rc == RK_OK)
		rc = rk_snapshot_each_revision(snap, yield_newest, &t, err);
	free(t.slots);
	return rc;
}
