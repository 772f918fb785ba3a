/*
 * The one error type of certrenew. Functions return enum cr_err and give
 * results through out-parameters; CR_OK is zero so `if (err) goto out;` reads well.
 */
#ifndef CR_ERR_H
#define CR_ERR_H

enum cr_err {
	CR_OK = 0,
	CR_ERR_NOMEM,     /* allocation failed */
	CR_ERR_INVALID,   /* input malformed or refused by a rule */
	CR_ERR_TOOBIG,    /* input larger than its cap */
	CR_ERR_NOTFOUND,  /* no such object (or not visible to the caller) */
	CR_ERR_DENIED,    /* authenticated but not allowed, or verification failed */
	CR_ERR_CONFLICT,  /* state changed underneath, duplicate, replay */
	CR_ERR_IO,        /* file, socket or database failure */
	CR_ERR_REMOTE,    /* an external service failed or answered garbage */
	CR_ERR_CRYPTO,    /* a cryptographic library failed */
	CR_ERR_CONFIG,    /* bad configuration value */
};

/* Short English name of an error, for logs. Never NULL. */
const char *cr_err_str(enum cr_err err);

#endif
