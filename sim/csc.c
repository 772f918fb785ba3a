/* PLACEHOLDER: replaced by the csc implementation before this lands. */
#include <string.h>

#include "oidc.h"

int gs_csc_path(const char *path) { (void)path; return 0; }
enum MHD_Result gs_csc_route(struct gs_req *r) { return gs_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n"); }
void gs_csc_fini(struct gs *gs) { (void)gs; }
enum cr_err gs_csc_init(struct gs *gs, const char *data_dir) { (void)gs; (void)data_dir; return CR_OK; }
