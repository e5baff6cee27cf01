/*
 * endpoint: what kind of Ollama call a request is, where the proxy
 * needs to know.
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

struct request;

/* 1 for a request in the policy's manage class (pull, push, create,
 * copy, delete, blob uploads and every path the class table does not
 * name), which may be silent for as long as a download takes. */
int	endpoint_is_manage(const struct request *);

#endif
