/* scan_pages.c: runs a live verify scan (rk_etcdscan_run) with a page callback that runs a shell
 * command once, after the given page: the end-to-end scenarios use it to change etcd between two
 * pages of one scan (e.g. compact past the revision the scan reads at). Prints the report as JSON.
 * usage: e2e-scan_pages URL grpc|json PAGE_SIZE AFTER_PAGE COMMAND */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rekey/etcdscan.h"

struct hook {
	int after, pages;
	const char *command;
	int status;
};

static void on_page(void *ctx, const rk_scan_report *so_far)
{
	struct hook *h = ctx;
	(void)so_far;
	if (++h->pages == h->after)
		h->status = system(h->command);
}

int main(int argc, char **argv)
{
	if (argc != 6 || (strcmp(argv[2], "grpc") && strcmp(argv[2], "json"))) {
		fprintf(stderr, "usage: e2e-scan_pages URL grpc|json PAGE_SIZE AFTER_PAGE COMMAND\n");
		return 2;
	}
	struct hook h = {.after = atoi(argv[4]), .command = argv[5]};
	rk_scan_opts o = {.etcd_url = argv[1],
	                  .etcd_api = strcmp(argv[2], "grpc") ? RK_ETCD_API_JSON : RK_ETCD_API_GRPC,
	                  .page_limit = (size_t)atol(argv[3]),
	                  .on_page = on_page,
	                  .page_ctx = &h};
	rk_scan_report *r = NULL;
	rk_err err;
	int rc = rk_etcdscan_run(&o, &r, &err);
	if (rc != RK_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return rc;
	}
	rk_buf out = RK_BUF_INIT;
	rk_scan_report_json(r, &out);
	fwrite(out.data, 1, out.len, stdout);
	fprintf(stderr, "pages %d, hook exit status %d\n", h.pages, h.status);
	rk_buf_free(&out);
	rk_scan_report_free(r);
	return h.status == 0 ? 0 : 1;
}
