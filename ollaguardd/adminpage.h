/*
 * adminpage: the admin page's static files (ollaguardd/page/), compiled
 * into the binary by the build (page/embed.sh writes them as C arrays)
 * and served under /admin/ without a key: they hold no data; the page
 * asks the API for everything with the master key the user types.
 */
#ifndef ADMINPAGE_H
#define ADMINPAGE_H

#include <stddef.h>

struct client;
struct outcome;

/* One embedded file; the generated table ends with a NULL name. */
struct adminfile {
	const char		*name;		/* "index.html" */
	const char		*ctype;
	const unsigned char	*data;
	size_t			 len;
};
extern const struct adminfile	adminfiles[];

/* 1 if the request is for the page: /admin, /admin/ or a file under
 * it that is not the API. */
int	adminpage_match(const struct client *);
/* Answers it: the file, a redirect from /admin, 404 or 405. */
void	adminpage_serve(struct client *, struct outcome *);

#endif
