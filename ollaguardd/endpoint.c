/*
 * endpoint: the kind of Ollama call a request is.
 *
 * Until the key policy has its table of endpoint classes, management
 * is this one list; the policy's "manage" class replaces it.
 */
#include <stddef.h>
#include <string.h>

#include "endpoint.h"
#include "request.h"

int
endpoint_is_manage(const struct request *r)
{
	static const char *const exact[] = {
		"/api/pull", "/api/push", "/api/create"
	};
	static const char blobs[] = "/api/blobs/";
	const char *q;
	size_t len, i;

	/* The path: the target up to its query. */
	q = memchr(r->target, '?', r->target_len);
	len = q != NULL ? (size_t)(q - r->target) : r->target_len;
	if (len > sizeof(blobs) - 1 &&
	    memcmp(r->target, blobs, sizeof(blobs) - 1) == 0)
		return 1;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (len == strlen(exact[i]) &&
		    memcmp(r->target, exact[i], len) == 0)
			return 1;
	return 0;
}
