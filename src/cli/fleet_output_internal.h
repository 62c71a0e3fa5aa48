/* fleet_output_internal.h (private to the CLI): how `rekeyctl fleet status` and `rekeyctl due` print: a
 * table, or one JSON document (docs/output.md). */
#ifndef REKEY_CLI_FLEET_OUTPUT_INTERNAL_H
#define REKEY_CLI_FLEET_OUTPUT_INTERNAL_H

#include "rekey/fleet.h"

void out_fleet_status(const rk_fleet_status *st, int json);
void out_due_report(const rk_due_report *r, int json);

#endif
