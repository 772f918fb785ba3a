/* PLACEHOLDER: replaced by the eid implementation before this lands. */
#include <string.h>

#include "oidc.h"

int gs_eid_path(const char *path) { (void)path; return 0; }
enum MHD_Result gs_eid_route(struct gs_req *r) { return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n"); }
void gs_eid_fini(struct gs *gs) { (void)gs; }
enum cr_err gs_eid_init(struct gs *gs) { (void)gs; return CR_OK; }
