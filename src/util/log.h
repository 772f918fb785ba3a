/*
 * Logging: one line per event to stderr, "time level component: message".
 * Never pass secrets (codes, tokens, passwords, session ids) to these.
 */
#ifndef CR_LOG_H
#define CR_LOG_H

enum cr_log_level { CR_LOG_DEBUG, CR_LOG_INFO, CR_LOG_WARN, CR_LOG_ERR };

void cr_log(enum cr_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cr_info(comp, ...) cr_log(CR_LOG_INFO, comp, __VA_ARGS__)
#define cr_warn(comp, ...) cr_log(CR_LOG_WARN, comp, __VA_ARGS__)
#define cr_error(comp, ...) cr_log(CR_LOG_ERR, comp, __VA_ARGS__)

#endif
