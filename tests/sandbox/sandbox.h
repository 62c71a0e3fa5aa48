/* sandbox.h: entry points of the rekey-sandbox subcommands (main.c dispatches to them). */
#ifndef REKEY_SANDBOX_H
#define REKEY_SANDBOX_H

/* `rekey-sandbox apiserver ...`: a Kubernetes-compatible apiserver over etcd (apiserver.c). */
int sandbox_apiserver_main(int argc, char **argv);

#endif
