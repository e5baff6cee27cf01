/*
 * adminapi: the admin JSON API under /admin/api/, for the master key
 * only (serve has checked the key and the client's address):
 *
 *	GET	/admin/api/keys			every key, as keyctl list --json
 *	POST	/admin/api/keys			a new key (201, with "key")
 *	GET	/admin/api/keys/{id}		one key
 *	PATCH	/admin/api/keys/{id}		name, expires_in, policy
 *	POST	/admin/api/keys/{id}/revoke
 *	GET	/admin/api/usage?since=&until=&by=	as keyctl usage --json
 *	GET	/admin/api/status		the pool, busy workers, boxes
 *
 * Each change is committed with synchronous=FULL before the reply, and
 * every worker's key cache sees it on its next request.
 */
#ifndef ADMINAPI_H
#define ADMINAPI_H

struct client;
struct config;
struct outcome;

/* The headers of every /admin response: no framing, no inline code,
 * no referrer, no caching. */
#define ADMINAPI_HEADERS \
	"Content-Security-Policy: default-src 'self'; " \
	"frame-ancestors 'none'\r\n" \
	"X-Frame-Options: DENY\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Cache-Control: no-store\r\n"

void	adminapi_init(const struct config *);
/* 1 if the request's path is /admin or under it. */
int	adminapi_match(const struct client *);
/* 1 if the admin setting is on and the client's address is allowed. */
int	adminapi_allowed(const struct client *);
/* Answers a request under /admin/api/ of the master key. */
void	adminapi_serve(struct client *, struct outcome *);

#endif
