/*
 * The CA as the configuration names it (pki.*), and `certrenew crl`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "flow/flow.h"
#include "pki/pki.h"
#include "store/store.h"
#include "util/log.h"

enum cr_err
cr_app_pki_open(const struct cr_config *cfg, struct cr_pki **out)
{
	char crl[CR_CERT_TYPE_COUNT][CR_CFG_STR + 32], aia[CR_CERT_TYPE_COUNT][CR_CFG_STR + 32];
	struct cr_pki_config pc = {.root_cert_file = cfg->pki_root_cert, .vault_key_file = cfg->pki_vault_key_file};

	*out = NULL;
	if (strcmp(cfg->pki_key_algorithm, "ec-p256") == 0)
		pc.key_alg = CR_PKI_KEY_EC_P256;
	else if (strcmp(cfg->pki_key_algorithm, "rsa-3072") == 0)
		pc.key_alg = CR_PKI_KEY_RSA_3072;
	else {
		cr_error("pki", "pki.key_algorithm '%s' is neither ec-p256 nor rsa-3072", cfg->pki_key_algorithm);
		return CR_ERR_CONFIG;
	}
	for (int t = 0; t < CR_CERT_TYPE_COUNT; t++) {
		const char *name = cr_cert_type_name((enum cr_cert_type)t);

		crl[t][0] = aia[t][0] = '\0';
		/* Certificates name where their CRL and CA certificate are published; none when not configured. */
		if (cfg->pki_publish_url[0] != '\0') {
			snprintf(crl[t], sizeof(crl[t]), "%s/%s.crl", cfg->pki_publish_url, name);
			snprintf(aia[t], sizeof(aia[t]), "%s/%s-ca.crt", cfg->pki_publish_url, name);
		}
		pc.types[t] = (struct cr_pki_profile){cfg->pki_types[t].ca_cert, cfg->pki_types[t].ca_key,
		    cfg->pki_types[t].validity_days, cfg->pki_types[t].policy_oid, crl[t], aia[t]};
	}
	return cr_pki_open(&pc, out);
}

int
cr_cmd_crl(const struct cr_config *cfg, int argc, char **argv)
{
	struct cr_store *st = NULL;
	struct cr_pki *pki = NULL;
	struct cr_db *db;
	long entries = 0;
	int rc = 1;

	if (cr_cmd_wants_help(argc, argv,
	        "usage: certrenew crl\n"
	        "Publishes, for each certificate type, a CRL signed by its issuing CA\n"
	        "(<type>.crl, DER, a new crlNumber) and the CA's certificate (<type>-ca.crt)\n"
	        "into pki.crl_dir, where the portal serves them under /pki/. The jobs worker\n"
	        "does the same every pass; this is for cron or after an operator revocation.\n"))
		return 0;
	if (cr_app_pki_open(cfg, &pki) != CR_OK || cr_store_open(cfg->database_url, 1, &st) != CR_OK)
		goto out;
	db = cr_store_get(st);
	{
		struct cr_flow_env env = {.pki = pki, .crl_dir = cfg->pki_crl_dir, .crl_hours = cfg->pki_crl_hours};
		struct cr_flow_ctx c = {&env, db, time(NULL), NULL, NULL};

		if (cr_flow_crl_publish(&c, &entries) == CR_OK) {
			printf("certrenew: CRLs published in %s (%ld revoked certificates listed)\n", cfg->pki_crl_dir, entries);
			rc = 0;
		}
	}
	cr_store_put(st, db);
out:
	cr_store_close(st);
	cr_pki_close(pki);
	return rc;
}
