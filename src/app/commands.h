/*
 * The certrenew commands. Each takes the loaded configuration and its own
 * arguments (argv[0] is the command name) and returns a process exit status.
 */
#ifndef CR_APP_COMMANDS_H
#define CR_APP_COMMANDS_H

#include <signal.h>
#include <stdbool.h>

#include "config/config.h"

int cr_cmd_init(const struct cr_config *cfg, int argc, char **argv);
int cr_cmd_demo_data(const struct cr_config *cfg, int argc, char **argv);
/* serve and jobs return when one of the signals in `stop` arrives (blocked by the caller). */
int cr_cmd_serve(const struct cr_config *cfg, int argc, char **argv, const sigset_t *stop);
int cr_cmd_jobs(const struct cr_config *cfg, int argc, char **argv, const sigset_t *stop);
int cr_cmd_audit_verify(const struct cr_config *cfg, int argc, char **argv);
int cr_cmd_import_confirmations(const struct cr_config *cfg, int argc, char **argv);
int cr_cmd_import_certs(const struct cr_config *cfg, int argc, char **argv);
int cr_cmd_import_positions(const struct cr_config *cfg, int argc, char **argv);
int cr_cmd_mail(const struct cr_config *cfg, int argc, char **argv);
/* Copies a SQLite installation into an empty PostgreSQL database (cmd_migrate.c). */
int cr_cmd_migrate_sqlite_to_postgres(const struct cr_config *cfg, int argc, char **argv);

/* Publishes the CRLs and CA certificates into pki.crl_dir (cmd_pki.c). */
int cr_cmd_crl(const struct cr_config *cfg, int argc, char **argv);

struct cr_pki;
/* Opens the CAs and the vault as pki.* names them (cmd_pki.c). CR_ERR_CONFIG, logged, when
   anything is missing or wrong. */
enum cr_err cr_app_pki_open(const struct cr_config *cfg, struct cr_pki **out);

/* Prints usage and returns true when argv (after the command name) asks for --help or -h. */
bool cr_cmd_wants_help(int argc, char **argv, const char *usage);

/* Reads a one-line secret file (trailing newline dropped) into out through cr_file_read_secret: CR_ERR_CONFIG,
   logged naming the file, when it is refused (group or others may read or write it, too long, empty). */
enum cr_err cr_read_secret_file(const char *path, char *out, size_t outlen);

#endif
