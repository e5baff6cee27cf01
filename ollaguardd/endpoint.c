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

	policy_classify(r->method, r->target, r->target_len, &ep);
	return ep.cls == POLICY_MANAGE;
}
