/* config_output_internal.h (private to the CLI): how `rekeyctl config` and `rekeyctl keygen` print: text
 * tables and JSON documents. Never prints key material: key names and fingerprints only. */
#ifndef REKEY_CLI_CONFIG_OUTPUT_INTERNAL_H
#define REKEY_CLI_CONFIG_OUTPUT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "rekey/encconfig.h"

/* The rules, providers, key names and fingerprints of cfg. */
void config_print_text(FILE *out, const char *path, const char *hash, const rk_encconfig *cfg);
json_t *config_to_json(const char *path, const char *hash, const rk_encconfig *cfg);
/* Prints a JSON document (indented, newline) and releases it. */
void print_json(FILE *out, json_t *doc);
/* Each line of a warnings text as "warning: <file>: <line>" on stderr; as a JSON array. */
void print_warnings(const char *path, const char *warnings);
json_t *warnings_to_json(const char *warnings);

#endif
