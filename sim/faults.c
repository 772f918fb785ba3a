/*
 * Armed failures, for the portal's own tests of what it does when GovID
 * misbehaves: a test posts `next=<name>` to /sim/faults and the next
 * operation that asks for that name (gs_fault_take) fails that way, once.
 *
 * Only with --test-faults (tests start govsim so; `make run` does not):
 * without it /sim/faults is 404 and gs_fault_take is always 0.
 */
#include <string.h>

#include "oidc.h"
#include "util/log.h"

static const char *const known[] = { GS_FAULT_NAMES };

enum cr_err
gs_faults_init(struct gs_faults *f, int enabled)
{
	memset(f, 0, sizeof(*f));
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return CR_ERR_NOMEM;
	f->enabled = enabled;
	if (enabled)
		cr_warn(GS_LOG, "--test-faults: POST /sim/faults arms failures (tests only)");
	return CR_OK;
}

void
gs_faults_fini(struct gs_faults *f)
{
	pthread_mutex_destroy(&f->lock);
}

/* The static name equal to s, or NULL when s names no failure. */
static const char *
known_name(const char *s)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], s) == 0)
			return known[i];
	return NULL;
}

int
gs_fault_take(struct gs_faults *f, const char *name)
{
	int hit = 0;

	if (!f->enabled)
		return 0;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->armed[i], name) != 0)
			continue;
		memmove(&f->armed[i], &f->armed[i + 1], (f->n - i - 1) * sizeof(f->armed[0]));
		f->n--;
		hit = 1;
		break;
	}
	pthread_mutex_unlock(&f->lock);
	if (hit)
		cr_warn(GS_LOG, "test fault %s fired", name);
	return hit;
}

/* Arms one failure; CR_ERR_TOOBIG when GS_FAULTS_MAX are armed already. */
static enum cr_err
arm(struct gs_faults *f, const char *name)
{
	enum cr_err err = CR_ERR_TOOBIG;

	pthread_mutex_lock(&f->lock);
	if (f->n < GS_FAULTS_MAX) {
		f->armed[f->n++] = name;
		err = CR_OK;
	}
	pthread_mutex_unlock(&f->lock);
	return err;
}

/* POST /sim/faults next=<name> arms it; DELETE disarms everything. */
enum MHD_Result
gs_faults_route(struct gs_req *r)
{
	struct cr_form form;
	const char *next, *name;
	enum cr_err err;

	if (strcmp(r->method, "DELETE") == 0) {
		pthread_mutex_lock(&r->gs->faults.lock);
		r->gs->faults.n = 0;
		pthread_mutex_unlock(&r->gs->faults.lock);
		return gs_reply_text(r, MHD_HTTP_OK, "disarmed\n");
	}
	if (strcmp(r->method, "POST") != 0) {
		const char *const h[] = { "Allow", "POST, DELETE", NULL };

		return gs_reply(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL, h);
	}
	if (!gs_is_form(gs_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)) ||
	    cr_form_parse_rules(cr_buf_str(&r->body), r->body.len, &gs_form_rules, &form) != CR_OK)
		return gs_reply_text(r, MHD_HTTP_BAD_REQUEST, "a form with next=<fault> expected\n");
	err = gs_form_get(&form, "next", 64, &next);
	name = err == CR_OK ? known_name(next) : NULL;
	cr_form_free(&form);
	if (name == NULL)
		return gs_reply_text(r, MHD_HTTP_BAD_REQUEST, "unknown fault\n");
	if (arm(&r->gs->faults, name) != CR_OK)
		return gs_reply_text(r, MHD_HTTP_CONFLICT, "too many armed faults\n");
	cr_info(GS_LOG, "test fault %s armed", name);
	return gs_reply_text(r, MHD_HTTP_OK, "armed\n");
}
