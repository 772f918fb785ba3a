/* The DSI and CSC stand-in of the unit tests; see httpstub.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "httpstub.h"

struct answer {
	unsigned status;
	char content_type[128];
	char *body;
	size_t len;
	long delay_ms;
};

struct httpstub {
	struct MHD_Daemon *d;
	unsigned port;
	char url[64];
	pthread_mutex_t mu;
	pthread_cond_t wake; /* broadcast when stopping: delayed answers end at once */
	bool stopping;
	struct answer ans[HTTPSTUB_ROUTES];
	struct httpstub_seen seen;
};

/* One request in progress. */
struct req {
	size_t body_len;
	char body[HTTPSTUB_BODY_KEPT]; /* the start, NUL-terminated */
};

static int
route_of(const char *method, const char *url)
{
	static const char residents[] = "/dsi/v1/residents/";

	if (strcmp(method, "GET") == 0 && strncmp(url, residents, sizeof(residents) - 1) == 0 &&
	    url[sizeof(residents) - 1] != '\0')
		return HTTPSTUB_RESIDENT;
	if (strcmp(method, "POST") != 0)
		return -1;
	if (strcmp(url, "/dsi/v1/face/compare") == 0)
		return HTTPSTUB_FACE;
	if (strcmp(url, "/csc/v2/credentials/list") == 0)
		return HTTPSTUB_CSC_LIST;
	if (strcmp(url, "/csc/v2/credentials/info") == 0)
		return HTTPSTUB_CSC_INFO;
	if (strcmp(url, "/csc/v2/signatures/signHash") == 0)
		return HTTPSTUB_CSC_SIGN;
	return -1;
}

/* Sleeps ms unless the stub stops first. Called with s->mu held. */
static void
delay_locked(struct httpstub *s, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->mu, &until) != ETIMEDOUT)
		;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *ctype, const void *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (ctype != NULL && ctype[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
copy_header(struct MHD_Connection *c, const char *name, char *out, size_t outlen)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(out, outlen, "%s", v ? v : "");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct httpstub *s = cls;
	struct req *q = *req_cls;
	struct answer a;
	int route;
	enum MHD_Result ret;

	(void)version;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		*req_cls = q;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Drained and counted, only its start kept: a face comparison body is ~14 MB. */
		if (q->body_len < sizeof(q->body) - 1) {
			size_t n = sizeof(q->body) - 1 - q->body_len;

			if (n > *upload_data_size)
				n = *upload_data_size;
			memcpy(q->body + q->body_len, upload_data, n);
		}
		q->body_len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	route = route_of(method, url);
	pthread_mutex_lock(&s->mu);
	snprintf(s->seen.method, sizeof(s->seen.method), "%s", method);
	snprintf(s->seen.path, sizeof(s->seen.path), "%s", url);
	copy_header(c, MHD_HTTP_HEADER_AUTHORIZATION, s->seen.authorization, sizeof(s->seen.authorization));
	copy_header(c, MHD_HTTP_HEADER_CONTENT_TYPE, s->seen.content_type, sizeof(s->seen.content_type));
	s->seen.body_len = q->body_len;
	if (route < 0) {
		pthread_mutex_unlock(&s->mu);
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "no such route\n", 14);
	}
	if (s->ans[route].delay_ms > 0)
		delay_locked(s, s->ans[route].delay_ms);
	a = s->ans[route];
	a.body = NULL;
	if (s->ans[route].len > 0 && (a.body = malloc(s->ans[route].len)) != NULL)
		memcpy(a.body, s->ans[route].body, s->ans[route].len);
	s->seen.requests[route]++;
	snprintf(s->seen.last[route].authorization, sizeof(s->seen.last[route].authorization), "%s",
	    s->seen.authorization);
	memcpy(s->seen.last[route].body, q->body, sizeof(q->body));
	pthread_mutex_unlock(&s->mu);
	ret = reply(c, a.status, a.content_type, a.body ? a.body : "", a.body ? a.len : 0);
	free(a.body);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*req_cls);
	*req_cls = NULL;
}

struct httpstub *
httpstub_start(void)
{
	struct httpstub *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	const union MHD_DaemonInfo *info;

	if (s == NULL)
		return NULL;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	for (int i = 0; i < HTTPSTUB_ROUTES; i++)
		httpstub_set(s, (enum httpstub_route)i, 500, "text/plain", "not set\n", -1, 0);
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
	    NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done,
	    s, MHD_OPTION_END);
	if (s->d == NULL || (info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)) == NULL || info->port == 0) {
		fprintf(stderr, "httpstub: cannot start a server on 127.0.0.1\n");
		httpstub_stop(s);
		return NULL;
	}
	s->port = info->port;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
	return s;
}

void
httpstub_stop(struct httpstub *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	for (int i = 0; i < HTTPSTUB_ROUTES; i++)
		free(s->ans[i].body);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

const char *
httpstub_url(const struct httpstub *s)
{
	return s->url;
}

unsigned
httpstub_port(const struct httpstub *s)
{
	return s->port;
}

void
httpstub_set(struct httpstub *s, enum httpstub_route r, unsigned status, const char *content_type, const char *body,
    long len, long delay_ms)
{
	struct answer *a = &s->ans[r];
	size_t n = body == NULL ? 0 : len < 0 ? strlen(body) : (size_t)len;
	char *copy = n > 0 ? malloc(n) : NULL;

	if (n > 0 && copy == NULL) {
		fprintf(stderr, "httpstub: out of memory\n");
		abort();
	}
	if (n > 0)
		memcpy(copy, body, n);
	pthread_mutex_lock(&s->mu);
	free(a->body);
	a->status = status;
	snprintf(a->content_type, sizeof(a->content_type), "%s", content_type ? content_type : "");
	a->body = copy;
	a->len = n;
	a->delay_ms = delay_ms;
	pthread_mutex_unlock(&s->mu);
}

void
httpstub_seen(struct httpstub *s, struct httpstub_seen *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->seen;
	pthread_mutex_unlock(&s->mu);
}
