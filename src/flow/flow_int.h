/* The flow layer's private helpers (flow_common.c). */
#ifndef CR_FLOW_INT_H
#define CR_FLOW_INT_H

#include "core/identity.h"
#include "flow/flow.h"

/* Sets the outcome, reason and its number; leaves res->app alone. */
void flow_result(struct cr_flow_result *res, enum cr_flow_outcome o, enum cr_flow_why why, int n);
/* An audit row by the context's actor ("person:N", or "anonymous") from its address. In a transaction. */
enum cr_err flow_audit(const struct cr_flow_ctx *c, const char *action, const char *object, const char *detail);
/* The same with object "application:N". */
enum cr_err flow_audit_app(const struct cr_flow_ctx *c, const char *action, int64_t app_id, const char *detail);
/* Ends a transaction begun by the caller: commits when err (what the transaction's steps returned) is
   CR_OK, else rolls back; returns the first error. */
enum cr_err flow_commit(const struct cr_flow_ctx *c, enum cr_err err);
/* Loads the actor's application into res->app and checks it is where an action applies: in state
   `at` and, by the state machine, able to move on to `next`. False with the result set otherwise. */
bool flow_load_at(const struct cr_flow_ctx *c, int64_t app_id, enum cr_app_state at, enum cr_app_state next,
    struct cr_flow_result *res);
/* After a failed write: a state change that lost a race (a double-submitted form, a second tab) is a
   conflict with the winner's application in res->app; anything else is the store failing. */
void flow_lost_or_failed(const struct cr_flow_ctx *c, enum cr_err err, struct cr_flow_result *res);
/* The DSI check of 「下一步」 (flow_identity.c), with the application at the email step in res->app. */
void flow_identity_check(const struct cr_flow_ctx *c, struct cr_flow_result *res);
/* The registration data DSI's card is compared with (flow_identity.c). */
void flow_registration_of(const struct cr_person *p, struct cr_id_registration *r);
/* The evidence row of a DSI lookup (outcome match, mismatch or not_found); *sealed (owned by the
   caller, row->answer_sealed points to it) gets the answer sealed under the evidence key. */
enum cr_err flow_id_evidence(const struct cr_flow_ctx *c, const struct cr_application *app,
    const struct cr_dsi_resident *dsi, const struct cr_buf *raw, const struct cr_id_match *m, const char *outcome,
    struct cr_id_check *row, unsigned char **sealed);
/* An audit row in a transaction of its own, for what changed nothing (a remote service failing, a
   refused answer); a failure to write it is logged. */
void flow_audit_alone(const struct cr_flow_ctx *c, const char *action, int64_t app_id, const char *detail);
/* The same about any object ("certificate:N"). */
void flow_audit_alone_object(const struct cr_flow_ctx *c, const char *action, const char *object, const char *detail);
/* Lower-case hex SHA-256 of n bytes. */
void flow_sha256_hex(const void *p, size_t n, char out[CR_DIGEST_HEX]);
/* The actor's person id, 0 when there is none. */
int64_t flow_actor_id(const struct cr_flow_ctx *c);

#endif
