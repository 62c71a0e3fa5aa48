/* seed_cmd.c: `rekey-sandbox seed --dir D --secrets N [--secret-bytes B --namespaces K --configmaps N --first
 * I]`: adds objects to a running sandbox straight through etcd (see seed.c). */
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

int sbx_seed_main(int argc, char **argv)
{
	lc_seed_opts o = {.namespaces = 4, .bytes = 1024};
	const char *dir = NULL;
	rk_err err;
	rk_err_clear(&err);
	int rc = RK_OK;
	for (int i = 1; rc == RK_OK && i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			rc = rk_err_set(&err, RK_BADINPUT, "unexpected argument \"%s\"", f);
			break;
		}
		i++;
		if (!strcmp(f, "--dir"))
			dir = v;
		else if (!strcmp(f, "--secrets"))
			rc = lc_parse_long(f, v, 0, 10000000, &o.secrets, &err);
		else if (!strcmp(f, "--configmaps"))
			rc = lc_parse_long(f, v, 0, 10000000, &o.configmaps, &err);
		else if (!strcmp(f, "--secret-bytes"))
			rc = lc_parse_long(f, v, 1, 1 << 20, &o.bytes, &err);
		else if (!strcmp(f, "--first"))
			rc = lc_parse_long(f, v, 0, 100000000, &o.first, &err);
		else if (!strcmp(f, "--namespaces"))
			rc = lc_parse_long(f, v, 1, 100000, &o.namespaces, &err);
		else
			rc = rk_err_set(&err, RK_BADINPUT, "unknown flag \"%s\"", f);
	}
	char absdir[4096];
	lc_info info;
	if (rc || lc_abs_dir(dir, absdir, &err) || lc_info_load(absdir, &info, &err)) {
		fprintf(stderr, "rekey-sandbox seed: %s\n", err.msg);
		return RK_BADINPUT;
	}
	double t0 = lc_now();
	rc = lc_seed(&info, &o, &err);
	if (rc) {
		fprintf(stderr, "rekey-sandbox seed: %s\n", err.msg);
		return rc;
	}
	printf("seeded %ld secrets and %ld configmaps in %.2f s\n", o.secrets, o.configmaps, lc_now() - t0);
	return RK_OK;
}
