/*
 * upstreams: parses the target-url values.  config.c has checked the
 * URL that starts each; the options after it are read here, where the
 * daemon needs them, so config.c (shared with ollaguard-keyctl) knows
 * nothing of routing.  Used at start, by --check-config and on reload.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "upstreams.h"

/* host:port of url, the port filled in from the scheme if absent. */
static int
default_name(const char *url, char *name, size_t len)
{
	CURLU *u;
	char *host = NULL, *port = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK &&
	    (size_t)snprintf(name, len, "%s:%s", host, port) < len)
		rc = 0;
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Names travel in a header and a log line: no blanks, quotes, commas. */
static int
name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= UPSTREAM_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("._:-[]", s[i]) == NULL)
			return 0;
	return 1;
}

static int
number(const char *v, size_t len, long long lo, long long hi, int *out)
{
	char buf[16];
	const char *why = NULL;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	*out = (int)strtonum(buf, lo, hi, &why);
	return why == NULL ? 0 : -1;
}

/* One "key=value" option of len bytes at opt. */
static int
option(const char *opt, size_t len, struct upstream *up, char *err,
    size_t errlen)
{
	const char *eq = memchr(opt, '=', len), *v;
	size_t klen, vlen;

	klen = eq != NULL ? (size_t)(eq - opt) : len;
	v = eq != NULL ? eq + 1 : opt + len;
	vlen = len - klen - (eq != NULL);
	if (eq != NULL && klen == 4 && strncmp(opt, "name", 4) == 0) {
		if (name_valid(v, vlen)) {
			memcpy(up->name, v, vlen);
			up->name[vlen] = '\0';
			return 0;
		}
		snprintf(err, errlen, "name \"%.*s\": 1 to %d letters, digits "
		    "or ._:-[]", (int)vlen, v, UPSTREAM_NAME_MAX - 1);
	} else if (eq != NULL && klen == 6 && strncmp(opt, "weight", 6) == 0) {
		if (number(v, vlen, 1, UPSTREAM_WEIGHT_MAX, &up->weight) == 0)
			return 0;
		snprintf(err, errlen, "weight \"%.*s\": expected 1 to %d",
		    (int)vlen, v, UPSTREAM_WEIGHT_MAX);
	} else if (eq != NULL && klen == 9 &&
	    strncmp(opt, "max-conns", 9) == 0) {
		if (number(v, vlen, 0, UPSTREAM_CONNS_MAX, &up->max_conns) == 0)
			return 0;
		snprintf(err, errlen, "max-conns \"%.*s\": expected 0 to %d",
		    (int)vlen, v, UPSTREAM_CONNS_MAX);
	} else
		snprintf(err, errlen, "unknown option \"%.*s\" (name=, "
		    "weight=, max-conns=)", (int)len, opt);
	return -1;
}

int
upstream_parse(const char *value, struct upstream *up, char *err,
    size_t errlen)
{
	const char *p = value, *why = NULL;
	char shown[CONFIG_URL_MAX];
	size_t len;

	memset(up, 0, sizeof(*up));
	up->weight = 1;
	len = strcspn(p, " \t");
	if (len >= sizeof(up->url)) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	memcpy(up->url, p, len);
	up->url[len] = '\0';
	if (config_check_url(up->url, &why) == -1) {
		config_redact_url(up->url, shown, sizeof(shown));
		snprintf(err, errlen, "\"%s\" %s", shown, why);
		return -1;
	}
	for (p += len;; p += len) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t");
		if (option(p, len, up, err, errlen) == -1)
			return -1;
	}
	if (up->name[0] == '\0' &&
	    default_name(up->url, up->name, sizeof(up->name)) == -1) {
		snprintf(err, errlen, "no name=, and host:port is not a valid "
		    "name");
		return -1;
	}
	return 0;
}

int
upstreams_parse(const struct config *cfg, struct upstreams *ups, char *err,
    size_t errlen)
{
	char why[CONFIG_URL_MAX + 256], shown[CONFIG_URL_MAX];
	int i;

	memset(ups, 0, sizeof(*ups));
	for (i = 0; i < cfg->ntarget_urls; i++) {
		/* A URL may carry a password: messages never show it. */
		config_redact_url(cfg->target_urls[i], shown, sizeof(shown));
		if (upstream_parse(cfg->target_urls[i], &ups->u[i], why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "target-url \"%s\": %s", shown,
			    why);
			return -1;
		}
		if (upstreams_find(ups, ups->u[i].name) != -1) {
			snprintf(err, errlen, "target-url \"%s\": name \"%s\" "
			    "is used twice", shown, ups->u[i].name);
			return -1;
		}
		ups->n++;
	}
	return 0;
}

int
upstreams_find(const struct upstreams *ups, const char *name)
{
	int i;

	for (i = 0; i < ups->n; i++)
		if (strcmp(ups->u[i].name, name) == 0)
			return i;
	return -1;
}

void
upstreams_print(const struct upstreams *ups, FILE *out)
{
	char shown[CONFIG_URL_MAX];
	int i;

	for (i = 0; i < ups->n; i++) {
		config_redact_url(ups->u[i].url, shown, sizeof(shown));
		fprintf(out, "# upstream %s: %s weight %d max-conns %d\n",
		    ups->u[i].name, shown, ups->u[i].weight,
		    ups->u[i].max_conns);
	}
}
