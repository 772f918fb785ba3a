/*
 * certrenew: the certificate-renewal system of eSignTrust's government CA.
 * main parses the global options, loads the configuration and runs one command.
 */
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "adapters/httpc.h"
#include "app/commands.h"
#include "util/crypto.h"
#include "util/log.h"

static const char usage[] =
    "usage: certrenew [-c CONFIG] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  init           create or migrate the database; in DEV also the DEV CAs and secrets\n"
    "  serve          run the web portal\n"
    "  jobs           run the background worker (--once for a single pass)\n"
    "  demo-data      load the DEV demo people and certificates\n"
    "  audit-verify   check the audit log's hash chain\n"
    "  import-confirmations FILE\n"
    "                 apply department decisions from a CSV file (all or nothing)\n"
    "  import-certs --holders HOLDERS.csv CERTFILE...\n"
    "                 load existing certificates (PEM/DER) with their holders (all or nothing)\n"
    "  import-positions FILE\n"
    "                 add the positions (職務/職級/職位) holders choose from at step 3\n"
    "  mail list|retry   the outbox: list (--failed) and re-queue failed messages\n"
    "  crl            publish the CRLs and CA certificates into pki.crl_dir\n"
    "  migrate-sqlite-to-postgres SQLITE_URL POSTGRES_URL\n"
    "                 copy a SQLite installation into an empty PostgreSQL database\n"
    "\n"
    "COMMAND --help describes a command. Configuration: CONFIG (key = value lines),\n"
    "then CERTRENEW_* environment variables (e.g. CERTRENEW_LISTEN=127.0.0.1:8080,\n"
    "CERTRENEW_DATABASE_URL=sqlite:var/certrenew.db). See docs/ARCHITECTURE.md.\n";

int
main(int argc, char **argv)
{
	struct cr_config cfg;
	const char *conf = NULL, *cmd;
	char err[512];
	sigset_t stop;
	int i = 1;

	setlocale(LC_ALL, "C.UTF-8");
	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		conf = argv[2];
		i = 3;
	}
	if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
		fputs(usage, i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	cmd = argv[i];
	if (cr_config_load(&cfg, conf, err, sizeof(err)) != CR_OK) {
		fprintf(stderr, "certrenew: %s\n", err);
		return 1;
	}
	if (cr_crypto_init() != CR_OK || cr_httpc_global_init() != CR_OK) {
		fprintf(stderr, "certrenew: cannot initialise libsodium or libcurl\n");
		return 1;
	}
	/* Threads started later inherit the mask; serve and jobs wait for these. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(cmd, "init") == 0)
		return cr_cmd_init(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "serve") == 0)
		return cr_cmd_serve(&cfg, argc - i, argv + i, &stop);
	if (strcmp(cmd, "jobs") == 0)
		return cr_cmd_jobs(&cfg, argc - i, argv + i, &stop);
	if (strcmp(cmd, "demo-data") == 0)
		return cr_cmd_demo_data(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "audit-verify") == 0)
		return cr_cmd_audit_verify(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "import-confirmations") == 0)
		return cr_cmd_import_confirmations(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "import-certs") == 0)
		return cr_cmd_import_certs(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "import-positions") == 0)
		return cr_cmd_import_positions(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "mail") == 0)
		return cr_cmd_mail(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "crl") == 0)
		return cr_cmd_crl(&cfg, argc - i, argv + i);
	if (strcmp(cmd, "migrate-sqlite-to-postgres") == 0)
		return cr_cmd_migrate_sqlite_to_postgres(&cfg, argc - i, argv + i);
	fprintf(stderr, "certrenew: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}
