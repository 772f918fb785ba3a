/*
 * PKI (OpenSSL 3): the certification authorities and certificate issuance.
 * The only module that opens CA private keys; callers hand in a request and
 * get a certificate back, so this can later run as a separate signer process.
 *
 * DEV mode has its own CAs (a root and one issuing CA per certificate type)
 * created by `certrenew init` under var/pki/; production names the CA's real
 * key material in the configuration, and `init` never writes over it.
 */
#ifndef CR_PKI_H
#define CR_PKI_H

#include <stddef.h>
#include <time.h>

#include "core/renewal.h"
#include "util/buf.h"
#include "util/err.h"

/* ---- the issuing CAs and their profiles (ca.c; docs/internals/issuance.md) ----
   One issuing CA per certificate type, each from a certificate and key file named by the
   configuration. ECDSA P-256 or RSA (3072 and up) CA keys; signatures with SHA-256. */

struct cr_pki;   /* the loaded CAs and the vault's server key; read-only once open, thread-safe */

struct cr_pki_profile {           /* one certificate type; every string borrowed for cr_pki_open */
	const char *ca_cert_file;     /* PEM: the issuing CA's certificate */
	const char *ca_key_file;      /* PEM: its private key (0600) */
	int validity_days;            /* of the certificates it issues (1..3650) */
	const char *policy_oid;       /* certificatePolicies, dotted ("2.999.1.3"); "" none */
	const char *crl_url;          /* CRL distribution point (http); "" none */
	const char *aia_url;          /* authorityInfoAccess caIssuers (http); "" none */
};

enum cr_pki_key_alg { CR_PKI_KEY_EC_P256, CR_PKI_KEY_RSA_3072 };

struct cr_pki_config {
	struct cr_pki_profile types[CR_CERT_TYPE_COUNT]; /* indexed by enum cr_cert_type */
	const char *root_cert_file;   /* PEM: the root the issuing CAs chain to (for cr_pki_chain_pem) */
	const char *vault_key_file;   /* the vault's server key (util/seal key file, 0600) */
	enum cr_pki_key_alg key_alg;  /* of new signing-account keys */
	unsigned long long kdf_ops;   /* Argon2id opslimit; 0: crypto_pwhash_OPSLIMIT_INTERACTIVE */
	size_t kdf_mem;               /* Argon2id memlimit in bytes; 0: crypto_pwhash_MEMLIMIT_INTERACTIVE */
};

/* Creates, in dir, what DEV mode uses when missing: root-ca.{pem,key}, {qualified,encryption,
   cloudsign}-ca.{pem,key} (issuing CAs under the root) and vault.key; keys mode 0600. Never
   overwrites a file. Idempotent. */
enum cr_err cr_pki_dev_init(const char *dir);
/* Loads every profile's CA (the key must match the certificate, the certificate must be a CA with
   keyCertSign and a subject key identifier, issued by root_cert_file) and the vault key; checks the
   profiles (validity 1..3650, OID, http(s) URLs without commas) and kdf bounds (pki_kdf_ok: ops 1..10,
   mem 8 MiB..1 GiB). CR_ERR_CONFIG, logged naming the file, when anything is wrong. */
enum cr_err cr_pki_open(const struct cr_pki_config *cfg, struct cr_pki **out);
void cr_pki_close(struct cr_pki *p); /* NULL is a no-op */

struct cr_pki_subject {
	const char *common_name;  /* holder name */
	const char *email;
	const char *organisation; /* 機構名稱 */
	const char *unit;         /* 部門/分部, may be "" */
	const char *title;        /* 職務/職級/職位, may be "" */
};

struct cr_pki_issued {
	char serial_hex[80];      /* lower-case hex, no separators */
	unsigned char *der;       /* owned; free with cr_pki_issued_free */
	size_t der_len;
	time_t not_before, not_after;
};

#define CR_PKI_SERIAL_HEX 33  /* 128 bits as 32 hex digits, plus NUL */
/* A fresh serial: 128 bits from the CSPRNG, top bit clear (a positive INTEGER of 16 octets at most),
   never zero; lower-case hex, as certificates' serials are stored. The caller reserves it in the
   store (UNIQUE) before it signs. */
void cr_pki_serial_new(char out[CR_PKI_SERIAL_HEX]);

struct cr_pki_request {
	enum cr_cert_type type;
	struct cr_pki_subject subject;
	const unsigned char *public_key_der; size_t public_key_len; /* SubjectPublicKeyInfo (DER) */
	const char *serial_hex;   /* from cr_pki_serial_new */
	time_t not_before;
	time_t not_after;         /* 0: not_before + the type's validity_days; else this (the DEV demo
	                             inventory's dates), after not_before; either way no later than the
	                             issuing CA's own notAfter */
};

/* Issues the certificate r describes under its type's CA: version 3, the serial, subject
   C=MO, O, OU, title, CN (UTF8String), SAN rfc822Name email; basicConstraints critical CA:FALSE;
   keyUsage critical per type (signing types digitalSignature+nonRepudiation; encryption
   keyAgreement for EC keys, keyEncipherment for RSA); extendedKeyUsage per type; the policy OID;
   SKI (SHA-1 of the subjectPublicKey BIT STRING's contents), AKI keyid; CRL DP and AIA caIssuers
   when configured. The certificate's SubjectPublicKeyInfo is the request's DER, byte for byte.
   CR_ERR_INVALID for a bad request: serial not 1..32 hex digits or zero; empty name or email; a name
   field OpenSSL refuses such as a CN over 64 characters; a public key that is not exactly one DER
   (not BER) SubjectPublicKeyInfo, nothing after it, of
   - EC (id-ecPublicKey) on the named curve P-256 or P-384, the point uncompressed (04 || x || y) and
     on the curve: compressed and hybrid points are refused (RFC 5480 makes only the uncompressed form
     mandatory for relying parties, and some, Java's among them, read no other), and so are explicit
     curve parameters (X509_V_FLAG_X509_STRICT refuses them in a certificate);
   - RSA (rsaEncryption, NULL parameters) of 2048..8192 bits.
   out->serial_hex gets the serial as cr_pki_serial_normalise writes it. */
enum cr_err cr_pki_issue(const struct cr_pki *p, const struct cr_pki_request *r, struct cr_pki_issued *out);
/* Issues a certificate of type t for s with a fresh key pair held nowhere (DEV demo inventory). */
enum cr_err cr_pki_issue_demo(const struct cr_pki *p, const struct cr_pki_subject *s, enum cr_cert_type t,
    time_t not_before, time_t not_after, struct cr_pki_issued *out);
void cr_pki_issued_free(struct cr_pki_issued *c);
/* Appends the type's issuing CA certificate, then the root, as PEM (what `openssl verify` needs). */
enum cr_err cr_pki_chain_pem(const struct cr_pki *p, enum cr_cert_type t, struct cr_buf *out);
/* Appends the type's issuing CA certificate as DER (what AIA caIssuers serves). */
enum cr_err cr_pki_ca_cert_der(const struct cr_pki *p, enum cr_cert_type t, struct cr_buf *out);

/* ---- CRLs (crl.c) ---- */
struct cr_pki_revoked {
	const char *serial_hex;
	time_t revoked_at;
	int reason;               /* RFC 5280 CRLReason: 0 unspecified, 1 keyCompromise, 4 superseded, ... */
};
/* A v2 CRL of type t's CA, signed by it: the entries (with reason codes), crlNumber, AKI,
   thisUpdate/nextUpdate; DER appended to out. */
enum cr_err cr_pki_crl_build(const struct cr_pki *p, enum cr_cert_type t, const struct cr_pki_revoked *r, size_t n,
    long crl_number, time_t this_update, time_t next_update, struct cr_buf *out);

/* ---- the signing-account vault (vault.c; docs/internals/issuance.md) ----
   A cloudsign account's private keys are sealed with XChaCha20-Poly1305 under
   K = BLAKE2b-256(key = the server key, Argon2id(password, salt, ops, mem) || account name), with
   "certrenew vault key v1" || 0x00 || account || 0x00 || SHA-256(public key) as associated data;
   the sealed blob is nonce (24) || ciphertext || tag over the private key's PKCS#8 DER. Without the server
   key a copy of the database allows no offline guessing; without the password the server key alone
   opens nothing. The password is never stored. */

#define CR_VAULT_SALT_LEN 16
#define CR_VAULT_MAX_SEALED 4096
#define CR_VAULT_MAX_PUBLIC 1024

/* An account's key derivation parameters, as the store keeps them. */
struct cr_vault_kdf {
	unsigned char salt[CR_VAULT_SALT_LEN];
	unsigned long long ops;
	size_t mem;
};

/* A sealed key with its public half, as the store keeps it. */
struct cr_vault_sealed {
	unsigned char sealed[CR_VAULT_MAX_SEALED]; size_t sealed_len;
	unsigned char public_der[CR_VAULT_MAX_PUBLIC]; size_t public_len; /* SubjectPublicKeyInfo */
};

struct cr_vault_unlock; /* a derived key held for one activation; wiped by cr_pki_vault_unlock_free */

/* A new account: fresh salt (the config's ops/mem) and a first key pair, sealed under password. */
enum cr_err cr_pki_vault_create(const struct cr_pki *p, const char *account, const char *password,
    struct cr_vault_kdf *kdf, struct cr_vault_sealed *key);
/* Opens key with password: CR_OK with *out when the password opens it (proves control of the
   account); CR_ERR_DENIED when it does not (wrong password, another account's blob, altered blob or
   public key; they are indistinguishable on purpose); CR_ERR_INVALID for absurd sizes or kdf values. */
enum cr_err cr_pki_vault_unlock(const struct cr_pki *p, const char *account, const char *password,
    const struct cr_vault_kdf *kdf, const struct cr_vault_sealed *key, struct cr_vault_unlock **out);
/* A new key pair of the configured algorithm for the unlocked account, sealed under the same
   password (fresh nonce). */
enum cr_err cr_pki_vault_new_key(const struct cr_pki *p, const struct cr_vault_unlock *u, struct cr_vault_sealed *out);
void cr_pki_vault_unlock_free(struct cr_vault_unlock *u); /* NULL is a no-op */

/* ---- revocation passphrases (vault.c): Argon2id strings (crypto_pwhash_str) ---- */
#define CR_PASSPHRASE_HASH_LEN 128 /* crypto_pwhash_STRBYTES */
enum cr_err cr_pki_passphrase_hash(const struct cr_pki *p, const char *passphrase, char out[CR_PASSPHRASE_HASH_LEN]);
/* true when passphrase matches hash (constant time in libsodium). */
bool cr_pki_passphrase_check(const char *hash, const char *passphrase);

/* ---- reading existing certificates (operator import; x509_read.c) ----
   Input is untrusted; nothing here touches a key. (bool comes from core/renewal.h.) */

#define CR_PKI_MAX_EMAILS 8     /* addresses kept per certificate */
#define CR_PKI_MAX_PER_FILE 1000 /* certificates read from one PEM file */

struct cr_pki_cert_info {
	char serial_hex[80];      /* lower-case hex as cr_pki_serial_normalise gives it */
	bool dates_ok;            /* both dates readable (ASN1_TIME_to_tm) */
	time_t not_before, not_after;
	size_t n_emails;          /* rfc822Name SANs, then subject emailAddress, at most CR_PKI_MAX_EMAILS */
	char emails[CR_PKI_MAX_EMAILS][256];
	unsigned char *der;       /* owned: the certificate as encoded */
	size_t der_len;
};

/* Reads every certificate of a file's contents: PEM (CERTIFICATE blocks; other blocks are skipped)
   or a single DER certificate. On CR_OK *out holds *n >= 1 entries, to free with cr_pki_certs_free.
   CR_ERR_INVALID when the bytes are neither, a CERTIFICATE block does not parse or a serial is
   longer than 32 octets; CR_ERR_TOOBIG past CR_PKI_MAX_PER_FILE; a short reason in why either way. */
enum cr_err cr_pki_certs_read(const unsigned char *buf, size_t len, struct cr_pki_cert_info **out, size_t *n,
    char *why, size_t whylen);
void cr_pki_certs_free(struct cr_pki_cert_info *certs, size_t n); /* NULL is a no-op */

/* Normalises a serial number written in hex: case-insensitive, ':' and ' ' separators and a leading
   "0x" allowed. out gets lower-case hex without separators or leading zero octets, as certificates'
   serials are stored ("0" for zero). false when in is empty, not hex, or does not fit outlen. Pure. */
bool cr_pki_serial_normalise(const char *in, char *out, size_t outlen);

/* ---- e-signature verification (cms_verify.c; docs/internals/esign.md) ----
   GovID's signHash answer: a detached CMS SignedData, CAdES-B-B, over the SHA-256 of a document.
   The bytes are untrusted; nothing here touches a key of ours. */

#define CR_PKI_CMS_MAX (64u * 1024u) /* a signature's DER, at most */

/* What the signature must be. Everything is borrowed for the duration of the call. */
struct cr_pki_sig_expect {
	const char *trust_file;          /* PEM file of the GovID CA(s) */
	const unsigned char *digest;     /* SHA-256 of the document, 32 bytes */
	const char *resident_number;     /* signer's serialNumber must be "IDCMO-" + this (not empty) */
	const unsigned char *const *extra_der; const size_t *extra_len; size_t n_extra; /* intermediate certs
	                                    (from CSC credentials/info), untrusted, may be 0 */
	time_t now; long max_age; long leeway; /* signingTime within [now-max_age-leeway, now+leeway] */
};

/* The checks, in this order: "der" (a CMS SignedData, exactly len bytes, at most CR_PKI_CMS_MAX),
   "detached" (no eContent), "one_signer", "content_type" (eContentType and the contentType signed
   attribute are id-data), "message_digest" (digest algorithm SHA-256, the messageDigest signed attribute
   equals expect->digest), "signature" (the signer certificate is in the CMS or the extras, the signature
   over the signed attributes verifies with its key, signingCertificateV2 names it), "chain" (chains to
   the trust file at now, X509_V_FLAG_X509_STRICT; not a CA; keyUsage digitalSignature or nonRepudiation),
   "not_expired" (the signer certificate is valid now and at the signing time), "signer_identity" (one
   subject serialNumber, equal to "IDCMO-" + resident_number), "signing_time" (one signingTime, within
   the window). Every check whose inputs exist is run, so the report shows each one's result; a check
   that cannot be run (no signer, say) is false. */
#define CR_PKI_SIG_CHECKS 10
struct cr_pki_sig_report {
	bool passed; char why[128];      /* first failed check's name, "" when passed */
	char signer_subject[256];        /* one-line RFC 2253, "" when no signer certificate was found */
	char signer_serial_hex[80]; time_t signing_time; time_t cert_not_after; /* 0 when unknown */
	struct { const char *name; bool ok; } checks[CR_PKI_SIG_CHECKS]; /* names are static strings */
};

/* Verifies the DER CMS cms of len bytes against e; r is filled whenever r is not NULL.
   CR_OK whether or not the signature passes (r->passed and r->why say); CR_ERR_INVALID for NULL
   arguments or an empty resident number; CR_ERR_TOOBIG when len > CR_PKI_CMS_MAX (r->why "der");
   CR_ERR_CONFIG when the trust file cannot be read or holds no certificate; CR_ERR_NOMEM. */
enum cr_err cr_pki_cms_verify(const unsigned char *cms, size_t len, const struct cr_pki_sig_expect *e,
    struct cr_pki_sig_report *r);
/* Appends r as compact JSON to out, for the sealed evidence:
   {"passed":…,"why":…,"signer_subject":…,"signer_serial":…,"signing_time":…,"cert_not_after":…,
    "checks":{"der":true,…}} (times in Unix seconds, null when unknown). CR_ERR_TOOBIG past out's cap. */
enum cr_err cr_pki_sig_report_json(const struct cr_pki_sig_report *r, struct cr_buf *out);

#endif
