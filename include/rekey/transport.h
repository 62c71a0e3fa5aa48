/* transport.h: how a config reaches a control-plane node and how its apiserver picks it up:
 * local paths, SSH/SFTP through libcurl, or the user's exec hooks (docs/design.md). */
#ifndef REKEY_TRANSPORT_H
#define REKEY_TRANSPORT_H

#include <stddef.h>

#include "rekey/err.h"
#include "rekey/plan.h"

typedef struct rk_transport rk_transport;

int rk_transport_new(const rk_plan *plan, rk_transport **out, rk_err *err);
void rk_transport_free(rk_transport *t);

/* SSH host keys: every SFTP connection is checked against the plan's knownHosts, else
 * ~/.ssh/known_hosts; an unknown or changed key refuses the transfer (RK_UNSAFE). With
 * ssh.trustOnFirstUse a host without an entry is trusted once: its key is appended to that file and
 * this hook is called with its fingerprint ("SHA256:..." as ssh-keygen -l prints it) to record it. */
typedef void (*rk_transport_hostkey_hook)(const char *node, const char *host, long port, const char *key_type,
                                          const char *fingerprint, const char *known_hosts, void *ud);
void rk_transport_set_hostkey_hook(rk_transport *t, rk_transport_hostkey_hook hook, void *ud);

/* The node's current EncryptionConfiguration bytes (malloc'd; caller wipes: they hold keys). */
int rk_transport_read_config(rk_transport *t, const rk_plan_node *node, char **data, size_t *len,
                             rk_err *err);

/* Replaces the node's config atomically (temp name, rename), mode 0600; local writes keep FILE.bak. */
int rk_transport_write_config(rk_transport *t, const rk_plan_node *node, const char *data, size_t len,
                              rk_err *err);

/* Makes the node's apiserver pick the config up. restart: sets the manifest annotation
 * rekeyctl.io/config-hash=config_hash (the kubelet restarts the static pod; a no-op when it already
 * holds that hash); automatic: nothing to do (the caller waits for the reload); exec: runs the restart
 * hook. */
int rk_transport_pickup(rk_transport *t, const rk_plan_node *node, const char *config_hash, rk_err *err);

#endif
