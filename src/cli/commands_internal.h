/* commands_internal.h (private to the CLI): one entry point per rekeyctl command (src/cli/cmd_<name>.c). Each
 * returns an exit code (enum rk_code) and prints its own output; argv[0] is the command name. */
#ifndef REKEY_CLI_COMMANDS_INTERNAL_H
#define REKEY_CLI_COMMANDS_INTERNAL_H

int cmd_rewrite(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_kube(int argc, char **argv);
int cmd_rotate(int argc, char **argv); /* plan, rotate, resume, abort, rollback, break-glass */
int cmd_history(int argc, char **argv);
int cmd_fleet(int argc, char **argv); /* fleet rotate|resume|status */
int cmd_due(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

#endif
