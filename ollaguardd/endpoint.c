/*
 * endpoint: what kind of Ollama call a request is, where the proxy
 * needs to know.  The answer comes from the policy's endpoint class
 * table, so a path added there is timed as its class says.
 */
#include <stddef.h>

#include "endpoint.h"
#include "policy.h"
#include "request.h"

int
endpoint_is_manage(const struct request *r)
{
	struct policy_endpoint ep;

	/* Only what the table names: a path it does not name is "manage"
	 * for authorization (fail-closed), but no reason to wait for it
	 * longer than for any other call. */
	policy_classify(r->method, r->target, r->target_len, &ep);
	return ep.listed && ep.cls == POLICY_MANAGE;
}
