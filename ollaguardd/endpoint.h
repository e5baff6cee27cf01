/*
 * endpoint: what kind of Ollama call a request is, where the proxy
 * needs to know.
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

struct request;

/* 1 for a request to an endpoint the policy's class table names as
 * "manage" (pull, push, create, copy, delete, blob uploads), which may
 * be silent for as long as a download takes. */
int	endpoint_is_manage(const struct request *);

#endif
