/* init.c: librekey's process-wide setup (see include/rekey/init.h). */
#include "rekey/init.h"

#include <curl/curl.h>

int rk_global_init(rk_err *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return rk_err_set(err, RK_FAIL, "libcurl initialisation failed");
	return RK_OK;
}

void rk_global_cleanup(void)
{
	curl_global_cleanup();
}
