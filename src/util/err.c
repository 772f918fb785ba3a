/* Names of enum cr_err values, for log lines. */
#include "err.h"

const char *
cr_err_str(enum cr_err err)
{
	switch (err) {
	case CR_OK: return "ok";
	case CR_ERR_NOMEM: return "out of memory";
	case CR_ERR_INVALID: return "invalid input";
	case CR_ERR_TOOBIG: return "input too large";
	case CR_ERR_NOTFOUND: return "not found";
	case CR_ERR_DENIED: return "denied";
	case CR_ERR_CONFLICT: return "conflict";
	case CR_ERR_IO: return "i/o error";
	case CR_ERR_REMOTE: return "remote service error";
	case CR_ERR_CRYPTO: return "crypto error";
	case CR_ERR_CONFIG: return "configuration error";
	}
	return "unknown error";
}
