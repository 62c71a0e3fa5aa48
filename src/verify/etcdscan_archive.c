/* etcdscan_archive.c: which keys the scanned values need, and whether the key archive holds each one.
 * During the scan every value under a key is counted and the first one kept as a sample; afterwards
 * each archive entry of the same provider and name is tried: its file must match the fingerprint in
 * its name and it must decrypt the sample (aescbc has no MAC: the plaintext must also look like a
 * stored object, protobuf "k8s\0" or JSON). kms keys live in the KMS and are listed as such. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdscan_internal.h"
#include "rekey/keyarchive.h"
#include "rekey/keyfile.h"
#include "rekey/store.h"

static int needs_key(rk_value_kind kind)
{
	return kind == RK_VAL_AESCBC || kind == RK_VAL_AESGCM || kind == RK_VAL_SECRETBOX ||
	       kind == RK_VAL_KMS_V1 || kind == RK_VAL_KMS_V2;
}

static int add_needed(struct rk_scan *sc, const char *etcd_key, const uint8_t *val, size_t vlen,
                      const rk_value_info *v)
{
	rk_scan_report *r = sc->report;
	rk_needed_key *needed = realloc(r->needed, (r->nneeded + 1) * sizeof *needed);
	if (needed)
		r->needed = needed;
	struct key_sample *samples = realloc(sc->samples, (sc->nsamples + 1) * sizeof *samples);
	if (samples)
		sc->samples = samples;
	if (!needed || !samples)
		return rk_err_set(sc->err, RK_FAIL, "out of memory");
	rk_needed_key *n = &r->needed[r->nneeded++];
	memset(n, 0, sizeof *n);
	snprintf(n->provider, sizeof n->provider, "%s", rk_value_kind_name(v->kind));
	snprintf(n->key, sizeof n->key, "%s", v->name);
	snprintf(n->key_id, sizeof n->key_id, "%s", v->key_id);
	n->count = 1;
	struct key_sample *s = &sc->samples[sc->nsamples++];
	*s = (struct key_sample){strdup(etcd_key), malloc(vlen ? vlen : 1), vlen, v->prefix_len};
	if (!s->etcd_key || !s->value)
		return rk_err_set(sc->err, RK_FAIL, "out of memory");
	memcpy(s->value, val, vlen);
	return RK_OK;
}

int rk_scan_note_key(struct rk_scan *sc, const char *etcd_key, const uint8_t *val, size_t vlen,
                     const rk_value_info *v)
{
	if (!needs_key(v->kind))
		return RK_OK;
	const char *provider = rk_value_kind_name(v->kind);
	rk_scan_report *r = sc->report;
	for (size_t i = 0; i < r->nneeded; i++)
		if (!strcmp(r->needed[i].provider, provider) && !strcmp(r->needed[i].key, v->name) &&
		    !strcmp(r->needed[i].key_id, v->key_id)) {
			r->needed[i].count++;
			return RK_OK;
		}
	return add_needed(sc, etcd_key, val, vlen, v);
}

void rk_scan_samples_free(struct rk_scan *sc)
{
	for (size_t i = 0; i < sc->nsamples; i++) {
		free(sc->samples[i].etcd_key);
		free(sc->samples[i].value);
	}
	free(sc->samples);
	sc->samples = NULL;
	sc->nsamples = 0;
}

/* A message that may be cut short (paths can be long). */
static void set_note(char *note, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_note(char *note, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note, cap, fmt, ap);
	va_end(ap);
}

struct entries {
	rk_archived_key *list;
	size_t n;
};

static int collect_entry(const rk_archived_key *e, void *ud)
{
	struct entries *all = ud;
	rk_archived_key *grown = realloc(all->list, (all->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	all->list = grown;
	all->list[all->n++] = *e;
	return 0;
}

static int looks_stored(const rk_buf *plain)
{
	return (plain->len >= 4 && !memcmp(plain->data, "k8s\0", 4)) || (plain->len && plain->data[0] == '{');
}

/* 0 when entry's key is the one the sample was sealed with; else -1 and why in note. */
static int entry_decrypts(const rk_archived_key *e, const struct key_sample *s, char *note, size_t cap)
{
	rk_provider_type type = rk_provider_from_name(e->provider);
	rk_key key = {0};
	rk_err err;
	char fp[17];
	uint8_t raw[64];
	rk_buf plain = RK_BUF_SECRET;
	int n = -1, ok = 0;
	if (rk_key_read_file(e->path, &key, &err) != RK_OK)
		set_note(note, cap, "%s", err.msg);
	else if (rk_key_fingerprint(&key, fp) != 0 || strcmp(fp, e->fingerprint) != 0)
		set_note(note, cap, "%s does not hold the key its name records", e->path);
	else if ((n = rk_key_decode(&key, raw, sizeof raw)) <= 0 ||
	         rk_codec_decrypt(type, raw, (size_t)n, type == RK_PROV_AESGCM ? s->etcd_key : NULL,
	                          s->value + s->prefix_len, s->len - s->prefix_len, &plain, &err) != RK_OK ||
	         (type == RK_PROV_AESCBC && !looks_stored(&plain)))
		set_note(note, cap, "archive entry %s does not decrypt %s", e->path, s->etcd_key);
	else
		ok = 1;
	OPENSSL_cleanse(raw, sizeof raw);
	rk_buf_wipe_free(&plain);
	rk_key_clear(&key);
	return ok ? 0 : -1;
}

static void look_up(rk_needed_key *n, const struct key_sample *s, const struct entries *all)
{
	if (!strncmp(n->provider, "kms", 3)) {
		n->archived = -1;
		return;
	}
	set_note(n->note, sizeof n->note, "no archive entry for %s key %s", n->provider, n->key);
	for (size_t i = 0; i < all->n; i++) {
		const rk_archived_key *e = &all->list[i];
		if (strcmp(e->provider, n->provider) || strcmp(e->name, n->key))
			continue;
		if (entry_decrypts(e, s, n->note, sizeof n->note) == 0) {
			n->archived = 1;
			n->note[0] = '\0';
			snprintf(n->fingerprint, sizeof n->fingerprint, "%s", e->fingerprint);
			set_note(n->path, sizeof n->path, "%s", e->path);
			return;
		}
	}
}

int rk_scan_check_archive(struct rk_scan *sc)
{
	rk_scan_report *r = sc->report;
	char state[4096];
	int rc = rk_store_state_dir(sc->opts->state_dir, state, sizeof state, sc->err);
	if (rc == RK_OK)
		rc = rk_archive_dir(state, r->archive_dir, sizeof r->archive_dir, sc->err);
	struct entries all = {NULL, 0};
	if (rc == RK_OK && (rc = rk_archive_each(r->archive_dir, sc->opts->archive_cluster, collect_entry,
	                                         &all, sc->err)) < 0)
		rc = rk_err_set(sc->err, RK_FAIL, "out of memory");
	for (size_t i = 0; rc == RK_OK && i < r->nneeded; i++)
		look_up(&r->needed[i], &sc->samples[i], &all);
	r->archive_checked = rc == RK_OK;
	free(all.list);
	return rc;
}
