/*
 * modelname: model names as Ollama reads them, and the model lists of
 * keys (comma-separated globs) matched against them.
 *
 * A name is normalised before it is compared: the default registry
 * ("registry.ollama.ai/") and namespace ("library/") are dropped, in
 * any case, and a missing tag becomes ":latest", so "llama3",
 * "llama3:latest" and "registry.ollama.ai/library/llama3:latest" are
 * one model.  A name on another registry ("host:port/ns/model") keeps
 * its registry, and globs are matched with FNM_PATHNAME, so no "*"
 * ever reaches across a "/": "llama3*" never matches
 * "evil.example:5000/x/llama3" nor "llama3.evil.example/x/y".
 */
#ifndef MODELNAME_H
#define MODELNAME_H

#include <stddef.h>

#define MODELNAME_MAX		512	/* a name or glob, with its NUL */
#define MODELNAME_LIST_MAX	4096	/* a whole list, with its NUL */

/*
 * Writes the normal form of name to out.  -1 if the name is empty,
 * holds a space, a control character or a comma, or does not fit.
 */
int	modelname_normalize(const char *name, char *out, size_t outlen);
/*
 * Writes the normal form of one glob: the default registry and
 * namespace are dropped, and a glob without wildcards ("*?[") is
 * normalised like a name, so "llama3" allows "llama3:latest" only.
 * -1 as for modelname_normalize.
 */
int	modelname_glob_normalize(const char *glob, char *out, size_t outlen);
/* 1 if name (in any form) matches the glob (in normal form). */
int	modelname_glob_match(const char *glob, const char *name);
/*
 * Checks a list typed by a user ("llama3, qwen2*") and writes its
 * normal form ("llama3:latest,qwen2*") to out.  "" is no list (every
 * model).  -1 with a message naming the bad glob in err.
 */
int	modelname_list_parse(const char *list, char *out, size_t outlen,
	    char *err, size_t errlen);
/*
 * 1 if name may be used under list (in normal form, as
 * modelname_list_parse writes it); NULL or "" allows every model.
 */
int	modelname_list_match(const char *list, const char *name);

#endif
