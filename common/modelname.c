/*
 * modelname: names and globs are normalised by the same few steps, so
 * that a glob without wildcards and a name that means the same model
 * always end up as the same string.  Matching is fnmatch(3) with
 * FNM_PATHNAME (a wildcard stays within one part of a name) and
 * FNM_CASEFOLD (Ollama's names are not case-sensitive).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "modelname.h"

#define DEFAULT_REGISTRY	"registry.ollama.ai/"
#define DEFAULT_NAMESPACE	"library/"
#define DEFAULT_TAG		":latest"

/* 1 if every byte may appear in a name: no space, control or comma. */
static int
valid_chars(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == ',')
			return 0;
	return 1;
}

/* The name without the default registry and namespace. */
static const char *
strip_defaults(const char *s)
{
	size_t rl = strlen(DEFAULT_REGISTRY), nl = strlen(DEFAULT_NAMESPACE);

	if (strncasecmp(s, DEFAULT_REGISTRY, rl) == 0)
		s += rl;
	/* "library/ns/x" is not the library's: only one part may follow. */
	if (strncasecmp(s, DEFAULT_NAMESPACE, nl) == 0 &&
	    s[nl] != '\0' && strchr(s + nl, '/') == NULL)
		s += nl;
	return s;
}

/* Copies s to out, with ":latest" added when its last part has no tag
 * (before a "@digest", which is not a tag). */
static int
add_tag(const char *s, char *out, size_t outlen)
{
	const char *last, *at, *colon;
	size_t baselen;
	int n;

	last = strrchr(s, '/');
	last = last != NULL ? last + 1 : s;
	if ((at = strchr(last, '@')) == NULL)
		at = last + strlen(last);
	baselen = (size_t)(at - s);
	colon = memchr(last, ':', (size_t)(at - last));
	if (colon != NULL || at == last)
		n = snprintf(out, outlen, "%s", s);
	else
		n = snprintf(out, outlen, "%.*s%s%s", (int)baselen, s,
		    DEFAULT_TAG, at);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

static int
normalize(const char *in, char *out, size_t outlen, int glob)
{
	const char *s;

	if (outlen > 0)
		out[0] = '\0';
	if (in[0] == '\0' || strlen(in) >= MODELNAME_MAX || !valid_chars(in))
		return -1;
	s = strip_defaults(in);
	if (s[0] == '\0' || s[0] == '/')
		return -1;
	if (glob && strpbrk(s, "*?[") != NULL) {
		if (strlcpy(out, s, outlen) >= outlen) {
			out[0] = '\0';
			return -1;
		}
		return 0;
	}
	return add_tag(s, out, outlen);
}

int
modelname_normalize(const char *name, char *out, size_t outlen)
{
	return normalize(name, out, outlen, 0);
}

int
modelname_glob_normalize(const char *glob, char *out, size_t outlen)
{
	return normalize(glob, out, outlen, 1);
}

int
modelname_glob_match(const char *glob, const char *name)
{
	char norm[MODELNAME_MAX];

	if (modelname_normalize(name, norm, sizeof(norm)) == -1)
		return 0;
	return fnmatch(glob, norm, FNM_PATHNAME | FNM_CASEFOLD |
	    FNM_NOESCAPE) == 0;
}

/* The entry [s, e) without the blanks around it. */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

/* Whether the whole list is blank: no list at all. */
static int
blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

static int
parse_list(const char *list, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char glob[MODELNAME_MAX], norm[MODELNAME_MAX];
	const char *s, *e, *next;
	size_t len;
	int n;

	if (outlen > 0)
		out[0] = '\0';
	if (blank(list))
		return 0;
	for (s = list, n = 1; ; s = next + 1, n++) {
		if ((next = strchr(s, ',')) == NULL)
			next = s + strlen(s);
		e = next;
		trim(&s, &e);
		len = (size_t)(e - s);
		if (len == 0) {
			snprintf(err, errlen, "empty model glob (entry %d)", n);
			return -1;
		}
		if (len >= sizeof(glob)) {
			snprintf(err, errlen, "model glob %d is too long", n);
			return -1;
		}
		memcpy(glob, s, len);
		glob[len] = '\0';
		if (modelname_glob_normalize(glob, norm, sizeof(norm)) == -1) {
			if (valid_chars(glob))
				snprintf(err, errlen, "bad model glob \"%s\"",
				    glob);
			else
				snprintf(err, errlen, "bad model glob %d: "
				    "a space, control character or comma", n);
			return -1;
		}
		if ((out[0] != '\0' && strlcat(out, ",", outlen) >= outlen) ||
		    strlcat(out, norm, outlen) >= outlen) {
			snprintf(err, errlen, "model list is too long");
			return -1;
		}
		if (*next == '\0')
			return 0;
	}
}

/* A list refused leaves no half of it in out. */
int
modelname_list_parse(const char *list, char *out, size_t outlen,
    char *err, size_t errlen)
{
	if (parse_list(list, out, outlen, err, errlen) == -1) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
modelname_list_match(const char *list, const char *name)
{
	char glob[MODELNAME_MAX];
	const char *s, *next;
	size_t len;

	if (list == NULL || list[0] == '\0')
		return 1;
	for (s = list; ; s = next + 1) {
		if ((next = strchr(s, ',')) == NULL)
			next = s + strlen(s);
		len = (size_t)(next - s);
		if (len > 0 && len < sizeof(glob)) {
			memcpy(glob, s, len);
			glob[len] = '\0';
			if (modelname_glob_match(glob, name))
				return 1;
		}
		if (*next == '\0')
			return 0;
	}
}
