/* Sealing and queueing system mail; see outbox.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mime.h"
#include "outbox.h"
#include "util/crypto.h"
#include "util/log.h"

#define MAIL_CAP (1024u * 1024u)

/* The associated data of every outbox envelope (unchanged since the first release). */
static const char PURPOSE[] = "certrenew outbox v1";

enum cr_err
cr_outbox_seal(const struct cr_seal_key *key, const char *msg, size_t len, unsigned char **out, size_t *outlen)
{
	return cr_seal(key, PURPOSE, msg, len, MAIL_CAP, out, outlen);
}

enum cr_err
cr_outbox_open(const struct cr_seal_key *key, const unsigned char *sealed, size_t len, struct cr_buf *out)
{
	return cr_unseal(key, PURPOSE, sealed, len, MAIL_CAP, out);
}

/* The domain of the Message-ID: the envelope sender's, else the From address's. */
static void
id_domain(const struct cr_config *cfg, char *out, size_t outlen)
{
	const char *at = strrchr(cfg->mail_envelope_from, '@');
	const char *from_at = strrchr(cfg->mail_from, '@');
	size_t n;

	if (at != NULL && at[1] != '\0') {
		snprintf(out, outlen, "%s", at + 1);
		return;
	}
	snprintf(out, outlen, "%s", from_at ? from_at + 1 : "certrenew.invalid");
	/* "Name <user@host>": drop the closing bracket. */
	n = strcspn(out, ">");
	out[n] = '\0';
}

enum cr_err
cr_mailer_queue(const struct cr_mailer *m, struct cr_db *db, const char *kind, const char *to, const char *subject,
    const char *name, const json_t *ctx, time_t now, int64_t *outbox_id)
{
	struct cr_outbox_msg row = {0};
	unsigned char rnd[18];
	char rid[CR_B64URL_SIZE(18)], domain[128], *text = NULL;
	json_t *env;
	enum cr_err err;

	/* An address that cannot be mailed is refused now, not found out at delivery. */
	if (!cr_mail_addr_ok(to))
		return CR_ERR_INVALID;
	cr_random(rnd, sizeof(rnd));
	cr_b64url_encode(rnd, sizeof(rnd), rid, sizeof(rid));
	id_domain(m->cfg, domain, sizeof(domain));
	snprintf(row.message_id, sizeof(row.message_id), "<%s@%s>", rid, domain);
	env = json_pack("{s:i, s:s, s:s, s:s, s:O}", "v", 1, "template", name, "to", to, "subject", subject, "ctx",
	    ctx);
	if (env == NULL || (text = json_dumps(env, JSON_COMPACT)) == NULL) {
		json_decref(env);
		return CR_ERR_NOMEM;
	}
	json_decref(env);
	err = cr_outbox_seal(m->key, text, strlen(text), &row.sealed, &row.sealed_len);
	sodium_memzero(text, strlen(text));
	free(text);
	if (err != CR_OK)
		return err;
	snprintf(row.kind, sizeof(row.kind), "%s", kind);
	snprintf(row.to_addr, sizeof(row.to_addr), "%s", to);
	snprintf(row.subject, sizeof(row.subject), "%s", subject);
	err = cr_db_outbox_add(db, &row, now, outbox_id);
	free(row.sealed);
	return err;
}

enum cr_err
cr_mailer_open(const struct cr_mailer *m, const struct cr_outbox_msg *row, struct cr_mailer_letter *l)
{
	struct cr_buf plain;
	char tname[128], hname[128];
	const char *tmpl, *to, *subject;
	json_t *ctx;
	bool has_html;
	enum cr_err err;

	memset(l, 0, sizeof(*l));
	cr_buf_init(&l->text, MAIL_CAP);
	cr_buf_init(&l->html, MAIL_CAP);
	cr_buf_init(&plain, MAIL_CAP);
	if ((err = cr_outbox_open(m->key, row->sealed, row->sealed_len, &plain)) != CR_OK)
		goto out;
	l->env = json_loadb(plain.data, plain.len, 0, NULL);
	tmpl = json_string_value(json_object_get(l->env, "template"));
	to = json_string_value(json_object_get(l->env, "to"));
	subject = json_string_value(json_object_get(l->env, "subject"));
	ctx = json_object_get(l->env, "ctx");
	if (l->env == NULL || tmpl == NULL || to == NULL || subject == NULL || !json_is_object(ctx) ||
	    strspn(tmpl, "abcdefghijklmnopqrstuvwxyz_") != strlen(tmpl)) {
		err = CR_ERR_INVALID;
		goto out;
	}
	/* Templates are named without their extension, so the HTML part has its own stem: x.txt, x_html.html. */
	snprintf(tname, sizeof(tname), "mail/%s", tmpl);
	snprintf(hname, sizeof(hname), "mail/%s_html", tmpl);
	if ((err = cr_tmpl_render(m->tmpl, tname, ctx, &l->text)) != CR_OK) {
		cr_error("outbox", "mail template %s: %s", tname, cr_err_str(err));
		goto out;
	}
	err = cr_tmpl_render(m->tmpl, hname, ctx, &l->html);
	has_html = err == CR_OK;
	if (err != CR_OK && err != CR_ERR_NOTFOUND) {
		cr_error("outbox", "mail template %s: %s", hname, cr_err_str(err));
		goto out;
	}
	err = CR_OK;
	id_domain(m->cfg, l->domain, sizeof(l->domain));
	l->mail = (struct cr_mail){
		.from = m->cfg->mail_from,
		.reply_to = m->cfg->mail_reply_to[0] ? m->cfg->mail_reply_to : NULL,
		.to = to,
		.subject = subject,
		.text = cr_buf_str(&l->text),
		.html = has_html ? cr_buf_str(&l->html) : NULL,
		.domain = l->domain,
		.date = row->created_at,
		.message_id = row->message_id,
	};
out:
	cr_buf_free_secret(&plain);
	return err;
}

void
cr_mailer_letter_free(struct cr_mailer_letter *l)
{
	json_decref(l->env);
	l->env = NULL;
	cr_buf_free_secret(&l->text);
	cr_buf_free_secret(&l->html);
	memset(&l->mail, 0, sizeof(l->mail));
}

enum cr_err
cr_mailer_build(const struct cr_mailer *m, const struct cr_outbox_msg *row, struct cr_buf *out)
{
	struct cr_mailer_letter l;
	enum cr_err err;

	if ((err = cr_mailer_open(m, row, &l)) == CR_OK)
		err = cr_mail_build(&l.mail, out, NULL, 0);
	cr_mailer_letter_free(&l);
	return err;
}
