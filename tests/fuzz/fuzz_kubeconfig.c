/* fuzz_kubeconfig.c: libFuzzer harness for the kubeconfig loader: the input is the kubeconfig file
 * (handed over as /proc/self/fd/N of a memfd, so the loader reads it the way it reads any file); it must
 * load or fail with a clean one-line error (no crash, no leak). The first byte picks the options: an
 * explicit --context "x" and --insecure-skip-tls-verify. A config that loads must name a server. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rekey/kubeconfig.h"
#include "rekey/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int write_input(const uint8_t *data, size_t size)
{
	int fd = memfd_create("kubeconfig", 0);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	if (!once++) {
		unsetenv("KUBECONFIG");
		rk_log_set_level(RK_LOG_ERROR); /* the insecure warnings would flood the output */
	}
	if (size == 0)
		return 0;
	int fd = write_input(data + 1, size - 1);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	rk_kubeconfig_opts opts = {.kubeconfig = path,
	                           .context = (data[0] & 1) ? "x" : NULL,
	                           .insecure_skip_tls_verify = (data[0] & 2) != 0};
	rk_kube_config *cfg = NULL;
	rk_err err;
	if (rk_kubeconfig_load(&opts, &cfg, &err) == RK_OK) {
		if (!cfg->server || !*cfg->server)
			abort();
		rk_kube_config_free(cfg);
	} else if (cfg || !err.msg[0] || strchr(err.msg, '\n')) {
		abort();
	}
	close(fd);
	return 0;
}
