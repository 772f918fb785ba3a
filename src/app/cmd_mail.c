/*
 * `certrenew mail`: what operators need of the outbox. `list` shows messages
 * (optionally only failed ones); `retry` puts failed messages back in the
 * queue for the next delivery pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "store/store.h"

#define LIST_MAX 1000

static const char usage[] =
    "usage: certrenew mail list [--failed | --queued | --sent]\n"
    "       certrenew mail retry ID | --all\n"
    "list shows the newest messages of the outbox (id, created, state, tries, recipient,\n"
    "subject, last error); retry re-queues failed messages for the next delivery pass.\n";

static int
list(struct cr_db *db, const char *state)
{
	struct cr_outbox_msg *rows = calloc(LIST_MAX, sizeof(*rows));
	size_t n = 0;

	if (rows == NULL || cr_db_outbox_list(db, state, 0, LIST_MAX, rows, &n) != CR_OK) {
		free(rows);
		fprintf(stderr, "certrenew mail: cannot read the outbox\n");
		return 1;
	}
	printf("%-8s %-20s %-8s %5s  %-32s %s\n", "id", "created (UTC)", "state", "tries", "to", "subject / last error");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		struct tm tm;

		gmtime_r(&rows[i].created_at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-8lld %-20s %-8s %5d  %-32s %s%s%s\n", (long long)rows[i].id, when, rows[i].state, rows[i].tries,
		    rows[i].to_addr, rows[i].subject, rows[i].last_error[0] ? " / " : "", rows[i].last_error);
	}
	printf("%zu message(s)\n", n);
	free(rows);
	return 0;
}

static int
retry(struct cr_db *db, const char *arg)
{
	long count = 0;
	long long id = 0;
	char *end;

	if (strcmp(arg, "--all") != 0) {
		id = strtoll(arg, &end, 10);
		if (*end != '\0' || id <= 0) {
			fprintf(stderr, "certrenew mail retry: give a message id or --all\n");
			return 1;
		}
	}
	if (cr_db_begin(db) != CR_OK || cr_db_outbox_requeue_failed(db, id, time(NULL), &count) != CR_OK ||
	    cr_db_audit(db, time(NULL), &(struct cr_audit){"operator", "mail_retry", id ? arg : "all", "", ""}) !=
	        CR_OK ||
	    cr_db_commit(db) != CR_OK) {
		cr_db_rollback(db);
		fprintf(stderr, "certrenew mail retry: failed\n");
		return 1;
	}
	printf("%ld failed message(s) queued again\n", count);
	return id != 0 && count == 0 ? 1 : 0;
}

int
cr_cmd_mail(const struct cr_config *cfg, int argc, char **argv)
{
	struct cr_store *st = NULL;
	struct cr_db *db;
	int rc = 2;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (cr_store_open(cfg->database_url, 1, &st) != CR_OK)
		return 1;
	db = cr_store_get(st);
	if (strcmp(argv[1], "list") == 0 && argc <= 3) {
		const char *state = NULL;

		if (argc == 3) {
			state = strcmp(argv[2], "--failed") == 0 ? "failed" : strcmp(argv[2], "--queued") == 0 ? "queued" :
			    strcmp(argv[2], "--sent") == 0 ? "sent" : "";
		}
		if (state != NULL && *state == '\0')
			fputs(usage, stderr);
		else
			rc = list(db, state);
	} else if (strcmp(argv[1], "retry") == 0 && argc == 3)
		rc = retry(db, argv[2]);
	else
		fputs(usage, stderr);
	cr_store_put(st, db);
	cr_store_close(st);
	return rc;
}
