/* manifest.c: sets or reads one annotation of a static-pod manifest through libyaml's document API
 * (see manifest.h). */
#include "rekey/manifest.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "rekey/buf.h"
#include "rekey/yamldoc.h"

static int write_out(void *data, unsigned char *buffer, size_t size)
{
	return rk_buf_append((rk_buf *)data, buffer, size) == 0;
}

/* The pair of mapping `map` whose key is `key`, or NULL. */
static yaml_node_pair_t *find_pair(rk_yaml *y, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = rk_yaml_at(y, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return p;
	}
	return NULL;
}

static int add_scalar(rk_yaml *y, const char *text, yaml_scalar_style_t style)
{
	return yaml_document_add_scalar(&y->doc, NULL, (yaml_char_t *)text, (int)strlen(text), style);
}

/* Index of the annotations mapping under metadata (created when absent), 0 on error. */
static int annotations_node(rk_yaml *y, rk_err *err)
{
	yaml_node_t *root = rk_yaml_root(y);
	if (!root || root->type != YAML_MAPPING_NODE)
		return rk_yaml_fail(y, root, err, "manifest: expected a Pod mapping"), 0;
	yaml_node_pair_t *meta = find_pair(y, root, "metadata");
	yaml_node_t *meta_node = meta ? rk_yaml_at(y, meta->value) : NULL;
	if (!meta_node || meta_node->type != YAML_MAPPING_NODE)
		return rk_yaml_fail(y, root, err, "manifest: metadata must be a mapping"), 0;
	int meta_id = meta->value;
	yaml_node_pair_t *ann = find_pair(y, meta_node, "annotations");
	if (ann) {
		if (rk_yaml_at(y, ann->value)->type != YAML_MAPPING_NODE)
			return rk_yaml_fail(y, rk_yaml_at(y, ann->value), err,
			                    "manifest: annotations must be a mapping"),
			       0;
		return ann->value;
	}
	int key = add_scalar(y, "annotations", YAML_ANY_SCALAR_STYLE);
	int map = yaml_document_add_mapping(&y->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
	if (!key || !map || !yaml_document_append_mapping_pair(&y->doc, meta_id, key, map))
		return rk_err_set(err, RK_FAIL, "out of memory"), 0;
	return map;
}

static int set_annotation(rk_yaml *y, const char *annotation, const char *value, rk_err *err)
{
	int map_id = annotations_node(y, err);
	if (!map_id)
		return err->code ? err->code : RK_FAIL;
	int value_id = add_scalar(y, value, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
	if (!value_id)
		return rk_err_set(err, RK_FAIL, "out of memory");
	yaml_node_pair_t *pair = find_pair(y, rk_yaml_at(y, map_id), annotation);
	if (pair) {
		pair->value = value_id;
		return RK_OK;
	}
	int key_id = add_scalar(y, annotation, YAML_ANY_SCALAR_STYLE);
	if (!key_id || !yaml_document_append_mapping_pair(&y->doc, map_id, key_id, value_id))
		return rk_err_set(err, RK_FAIL, "out of memory");
	return RK_OK;
}

static int dump_document(rk_yaml *y, char **out, size_t *out_len, rk_err *err)
{
	rk_buf buf = RK_BUF_INIT;
	yaml_emitter_t emitter;
	if (!yaml_emitter_initialize(&emitter))
		return rk_err_set(err, RK_FAIL, "out of memory");
	yaml_emitter_set_output(&emitter, write_out, &buf);
	yaml_emitter_set_unicode(&emitter, 1);
	yaml_emitter_set_width(&emitter, -1);
	int ok = yaml_emitter_open(&emitter) && yaml_emitter_dump(&emitter, &y->doc) &&
	         yaml_emitter_close(&emitter);
	y->loaded = 0; /* yaml_emitter_dump deletes the document */
	yaml_emitter_delete(&emitter);
	if (!ok) {
		rk_buf_free(&buf);
		return rk_err_set(err, RK_FAIL, "%s: cannot write YAML", y->path);
	}
	*out_len = buf.len;
	*out = rk_buf_steal(&buf);
	return RK_OK;
}

int rk_manifest_set_annotation(const char *manifest, size_t len, const char *name, const char *annotation,
                               const char *value, char **out, size_t *out_len, rk_err *err)
{
	rk_yaml y;
	int rc = rk_yaml_load(&y, name, manifest, len, err);
	if (rc == RK_OK)
		rc = set_annotation(&y, annotation, value, err);
	if (rc == RK_OK)
		rc = dump_document(&y, out, out_len, err);
	rk_yaml_free(&y);
	return rc;
}

int rk_manifest_get_annotation(const char *manifest, size_t len, const char *name, const char *annotation,
                               char **value, rk_err *err)
{
	rk_yaml y;
	*value = NULL;
	int rc = rk_yaml_load(&y, name, manifest, len, err);
	yaml_node_t *root = rc == RK_OK ? rk_yaml_root(&y) : NULL;
	yaml_node_t *meta = root ? rk_yaml_get(&y, root, "metadata") : NULL;
	yaml_node_t *ann = meta ? rk_yaml_get(&y, meta, "annotations") : NULL;
	yaml_node_t *v = ann ? rk_yaml_get(&y, ann, annotation) : NULL;
	if (v && v->type == YAML_SCALAR_NODE && !(*value = strdup((char *)v->data.scalar.value)))
		rc = rk_err_set(err, RK_FAIL, "out of memory");
	rk_yaml_free(&y);
	return rc;
}
