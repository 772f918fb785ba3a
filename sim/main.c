/*
 * govsim's entry point: reads the command line and configuration files,
 * starts the HTTP server and waits for SIGINT/SIGTERM to stop it cleanly.
 * All state lives in one struct gs owned by main; see govsim.h.
 *
 * usage: govsim --listen HOST:PORT --issuer URL --data-dir DIR
 *               --people FILE --client-id ID --client-secret-file FILE
 *               --redirect-uri URI [--redirect-uri URI ...]
 *               [--dsi-api-key-file FILE [--faces-dir DIR]] [--test-faults]
 */
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "oidc.h"
#include "util/log.h"

#define FACES_DIR_DEFAULT "sim/faces"

struct opts {
	const char *listen;
	const char *issuer;
	const char *data_dir;
	const char *people;
	const char *client_id;
	const char *secret_file;
	const char *redirects[GS_MAX_REDIRECTS];
	size_t n_redirects;
	const char *dsi_key_file;  /* NULL: DSI off */
	const char *faces_dir;
	int test_faults;           /* --test-faults: POST /sim/faults arms failures */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: govsim --listen HOST:PORT --issuer URL --data-dir DIR --people FILE\n"
	    "              --client-id ID --client-secret-file FILE\n"
	    "              --redirect-uri URI [--redirect-uri URI ...]\n"
	    "              [--dsi-api-key-file FILE [--faces-dir DIR (default " FACES_DIR_DEFAULT ")]]\n"
	    "              [--test-faults]\n");
}

/* Fills o from argv; 0 on success, -1 after printing what is wrong. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "people", required_argument, NULL, 'p' },
		{ "client-id", required_argument, NULL, 'c' },
		{ "client-secret-file", required_argument, NULL, 's' },
		{ "redirect-uri", required_argument, NULL, 'r' },
		{ "dsi-api-key-file", required_argument, NULL, 'k' },
		{ "faces-dir", required_argument, NULL, 'f' },
		{ "test-faults", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->faces_dir = FACES_DIR_DEFAULT;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': o->listen = optarg; break;
		case 'i': o->issuer = optarg; break;
		case 'd': o->data_dir = optarg; break;
		case 'p': o->people = optarg; break;
		case 'c': o->client_id = optarg; break;
		case 's': o->secret_file = optarg; break;
		case 'k': o->dsi_key_file = optarg; break;
		case 'f': o->faces_dir = optarg; break;
		case 'T': o->test_faults = 1; break;
		case 'r':
			if (o->n_redirects == GS_MAX_REDIRECTS) {
				fprintf(stderr, "govsim: at most %d --redirect-uri\n", GS_MAX_REDIRECTS);
				return -1;
			}
			o->redirects[o->n_redirects++] = optarg;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (optind != argc || !o->listen || !o->issuer || !o->data_dir || !o->people ||
	    !o->client_id || !o->secret_file || o->n_redirects == 0) {
		usage();
		return -1;
	}
	return 0;
}

/* An absolute http(s) URL without fragment or control characters. */
static int
url_ok(const char *u, size_t max)
{
	return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
	    strlen(u) <= max && strchr(u, '#') == NULL && !gs_has_ctl(u) && strchr(u, ' ') == NULL;
}

/* Issuer without trailing slash; the prefix is its path part. */
static enum cr_err
set_issuer(struct gs *gs, const char *issuer)
{
	size_t n;
	const char *slash;

	if (!url_ok(issuer, 512) || strchr(issuer, '?') != NULL) {
		cr_error(GS_LOG, "--issuer: want http(s)://host[:port][/path], no query");
		return CR_ERR_CONFIG;
	}
	if ((gs->issuer = strdup(issuer)) == NULL)
		return CR_ERR_NOMEM;
	n = strlen(gs->issuer);
	while (n > 0 && gs->issuer[n - 1] == '/')
		gs->issuer[--n] = '\0';
	slash = strchr(strstr(gs->issuer, "://") + 3, '/');
	gs->prefix = slash != NULL ? slash : gs->issuer + n;
	return CR_OK;
}

/* Reads the client secret: one line of a text file. */
static enum cr_err
read_secret(struct gs *gs, const char *path)
{
	return gs_read_secret_line(path, "client secret", MAX_SECRET, &gs->client_secret);
}

static enum cr_err
set_client(struct gs *gs, const struct opts *o)
{
	enum cr_err err;

	if (*o->client_id == '\0' || strlen(o->client_id) > MAX_CLIENT_ID || gs_has_ctl(o->client_id)) {
		cr_error(GS_LOG, "--client-id: 1..%d printable bytes", MAX_CLIENT_ID);
		return CR_ERR_CONFIG;
	}
	if ((gs->client_id = strdup(o->client_id)) == NULL)
		return CR_ERR_NOMEM;
	if ((err = read_secret(gs, o->secret_file)) != CR_OK)
		return err;
	for (size_t i = 0; i < o->n_redirects; i++) {
		if (!url_ok(o->redirects[i], MAX_URI)) {
			cr_error(GS_LOG, "--redirect-uri %s: want an absolute http(s) URL, no fragment",
			    o->redirects[i]);
			return CR_ERR_CONFIG;
		}
		if ((gs->redirect_uris[i] = strdup(o->redirects[i])) == NULL)
			return CR_ERR_NOMEM;
		gs->n_redirect_uris = i + 1;
	}
	return CR_OK;
}

/* Parses numeric HOST:PORT or [V6]:PORT into addr. */
static enum cr_err
resolve_listen(const char *listen, struct sockaddr_storage *addr, int *ipv6)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	size_t hl;

	if (colon == NULL || colon == listen || colon[1] == '\0')
		goto bad;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {  /* [::1]:8081 */
		listen++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		goto bad;
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*ipv6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return CR_OK;
bad:
	cr_error(GS_LOG, "--listen %s: want a numeric HOST:PORT", listen);
	return CR_ERR_CONFIG;
}

static void
gs_cleanup(struct gs *gs)
{
	gs_oidc_fini(gs);
	gs_eid_fini(gs);
	gs_csc_fini(gs);
	gs_faults_fini(&gs->faults);
	gs_dsi_free(&gs->dsi);
	gs_key_free(gs->key);
	gs_people_free(&gs->people);
	for (size_t i = 0; i < gs->n_redirect_uris; i++)
		free(gs->redirect_uris[i]);
	if (gs->client_secret != NULL) {
		sodium_memzero(gs->client_secret, strlen(gs->client_secret));
		free(gs->client_secret);
	}
	free(gs->client_id);
	free(gs->issuer);
	free(gs->csp);
}

/* DSI is on only with an API key; its registry is read from the people file. */
static enum cr_err
setup_dsi(struct gs *gs, const struct opts *o)
{
	if (o->dsi_key_file == NULL) {
		cr_info(GS_LOG, "DSI off (no --dsi-api-key-file): /dsi/ answers 404");
		return CR_OK;
	}
	return gs_dsi_load(o->dsi_key_file, o->people, o->faces_dir, &gs->dsi);
}

/* Everything but the network: configuration, accounts, key, tables. */
static enum cr_err
setup(struct gs *gs, const struct opts *o)
{
	enum cr_err err;

	if ((err = set_issuer(gs, o->issuer)) != CR_OK ||
	    (err = set_client(gs, o)) != CR_OK ||
	    (err = gs_people_load(o->people, &gs->people)) != CR_OK ||
	    (err = setup_dsi(gs, o)) != CR_OK ||
	    (err = gs_key_open(o->data_dir, &gs->key)) != CR_OK ||
	    (err = gs_page_csp(&gs->csp)) != CR_OK ||
	    (err = gs_oidc_init(gs)) != CR_OK ||
	    (err = gs_faults_init(&gs->faults, o->test_faults)) != CR_OK ||
	    (err = gs_eid_init(gs)) != CR_OK ||
	    (err = gs_csc_init(gs, o->data_dir)) != CR_OK)
		return err;
	return CR_OK;
}

/* Serves until SIGINT or SIGTERM. The signals are blocked before the server's
 * threads start, so they inherit the mask and only sigwait sees them. */
static int
serve(struct gs *gs, const char *listen)
{
	struct sockaddr_storage addr;
	struct MHD_Daemon *d = NULL;
	sigset_t set;
	int ipv6 = 0, sig = 0;

	if (resolve_listen(listen, &addr, &ipv6) != CR_OK)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (gs_http_start(gs, (const struct sockaddr *)&addr, ipv6, &d) != CR_OK) {
		cr_error(GS_LOG, "cannot listen on %s", listen);
		return 1;
	}
	cr_info(GS_LOG, "govsim listening on http://%s", listen);
	while (sigwait(&set, &sig) != 0)
		;
	cr_info(GS_LOG, "signal %d: stopping", sig);
	MHD_stop_daemon(d);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct gs gs;
	int rc = 1;

	memset(&gs, 0, sizeof(gs));
	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (sodium_init() < 0) {
		cr_error(GS_LOG, "libsodium failed to initialise");
		return 1;
	}
	if (pthread_mutex_init(&gs.lock, NULL) != 0)
		return 1;
	if (setup(&gs, &o) == CR_OK)
		rc = serve(&gs, o.listen);
	gs_cleanup(&gs);
	pthread_mutex_destroy(&gs.lock);
	return rc;
}
