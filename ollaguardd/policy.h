/*
 * policy: the endpoint classes, from one table: which class a request
 * falls in, where its model names are, and the sets of classes a key
 * may use ("infer,read").  Every path the table does not name is
 * "manage": a new Ollama endpoint is refused to keys without manage
 * until the table names it.  CORS preflights (OPTIONS) are answered
 * before the policy is asked, and are "manage" here like any other
 * unlisted request.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

#include "bodymodel.h"
#include "policyclass.h"


struct policy_endpoint {
	int		 cls;		/* one POLICY_* class */
	int		 fields;	/* BODYMODEL_* fields naming models */
	int		 listed;	/* 0: not in the table (manage) */
	int		 path_model;	/* the model is the path's last part */
	int		 filter;	/* a model list: filter the answer */
	int		 stream;	/* a blob: the body always streams */
};

/*
 * Classifies a request.  target is the request target as received
 * (path and query); the path is compared without the query, after
 * percent-decoding, as Ollama's router (gin) sees it.
 */
void	 policy_classify(const char *method, const char *target, size_t len,
	    struct policy_endpoint *);
/*
 * For an endpoint with path_model: the model named by the path
 * (/v1/models/{model}), decoded, into out.  -1 if none or too long.
 */
int	 policy_path_model(const char *target, size_t len, char *out,
	    size_t outlen);
/*
 * Whether a key whose model list is not empty may send this request
 * at all: an endpoint where the model cannot be found (unlisted) is
 * refused (403), fail-closed.
 */
int	 policy_models_known(const struct policy_endpoint *);


#endif
