/*
 * usagelist: grouped usage rows labelled with key names, and their
 * JSON.  Keys are shown by name, or by id when they have none; the
 * master key is "master" and a worker's overflow row "other".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keystore.h"
#include "usage.h"
#include "usagelist.h"

const char *const usagelist_count_names[USAGELIST_NCOUNTS] = {
	"requests", "errors", "prompt_tokens", "completion_tokens"
};

const struct usagelist_by usagelist_by_names[USAGELIST_NBY] = {
	{ USAGE_BY_KEY, "key" },
	{ USAGE_BY_MODEL, "model" },
	{ USAGE_BY_DAY, "day" },
	{ USAGE_BY_USER, "user" },
};

int64_t
usagelist_count(const struct usage_row *r, int i)
{
	switch (i) {
	case 0: return r->requests;
	case 1: return r->errors;
	case 2: return r->prompt_tokens;
	default: return r->completion_tokens;
	}
}

const char *
usagelist_field(const struct usagelist_row *u, int by)
{
	switch (by) {
	case USAGE_BY_KEY: return u->key;
	case USAGE_BY_MODEL: return u->r.model;
	case USAGE_BY_DAY: return u->r.day;
	default: return u->r.user;
	}
}

int
usagelist_parse_by(const char *arg, int *by, const char **bad)
{
	static char buf[64];
	char *s, *p;
	size_t i;

	*by = 0;
	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf)) {
		*bad = arg;
		return -1;
	}
	for (p = buf; (s = strsep(&p, ",")) != NULL;) {
		for (i = 0; i < USAGELIST_NBY; i++)
			if (strcmp(s, usagelist_by_names[i].name) == 0)
				break;
		if (i == USAGELIST_NBY) {
			*bad = s;
			return -1;
		}
		*by |= usagelist_by_names[i].by;
	}
	return 0;
}

static void
key_label(struct keystore *ks, int64_t id, struct usagelist_row *u)
{
	struct keyinfo ki;

	u->key_is_id = 0;
	if (id == USAGE_KEY_MASTER)
		strlcpy(u->key, "master", sizeof(u->key));
	else if (id == USAGE_KEY_OTHER)
		strlcpy(u->key, "other", sizeof(u->key));
	else if (ks != NULL && keystore_get_id(ks, id, &ki) == 0 &&
	    ki.name[0] != '\0')
		strlcpy(u->key, ki.name, sizeof(u->key));
	else {
		snprintf(u->key, sizeof(u->key), "%lld", (long long)id);
		u->key_is_id = 1;
	}
}

static int
collect(const struct usage_row *r, void *arg)
{
	struct usagelist *l = arg;
	struct usagelist_row *u;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 64 : 2 * l->cap;
		if ((u = reallocarray(l->rows, l->cap, sizeof(*u))) == NULL) {
			l->failed = 1;
			return -1;
		}
		l->rows = u;
	}
	u = &l->rows[l->n++];
	u->r = *r;
	u->key[0] = '\0';
	if (r->key_id != USAGE_KEY_NONE)
		key_label(l->ks, r->key_id, u);
	return 0;
}

int
usagelist_query(struct sqlite3 *db, const struct usage_filter *f,
    struct usagelist *l)
{
	int present;

	if ((present = usage_present(db)) == -1)
		return -1;
	if (!present)
		return 0;
	return usage_query(db, f, collect, l);
}

static int
row_json(json_t *a, const struct usagelist_row *u, int by)
{
	json_t *o, *v;
	size_t c;
	int b;

	if ((o = json_object()) == NULL || json_array_append_new(a, o) == -1)
		return -1;
	for (c = 0; c < USAGELIST_NBY; c++) {
		if (!(by & (b = usagelist_by_names[c].by)))
			continue;
		v = b == USAGE_BY_KEY && u->key_is_id ?
		    json_integer(u->r.key_id) :
		    json_string(usagelist_field(u, b));
		if (json_object_set_new(o, usagelist_by_names[c].name, v) == -1)
			return -1;
	}
	for (c = 0; c < USAGELIST_NCOUNTS; c++)
		if (json_object_set_new(o, usagelist_count_names[c],
		    json_integer(usagelist_count(&u->r, c))) == -1)
			return -1;
	return 0;
}

json_t *
usagelist_json(const struct usagelist *l, int by)
{
	json_t *a;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (row_json(a, &l->rows[i], by) == -1) {
			json_decref(a);
			return NULL;
		}
	return a;
}

void
usagelist_free(struct usagelist *l)
{
	free(l->rows);
	l->rows = NULL;
	l->n = l->cap = 0;
}
