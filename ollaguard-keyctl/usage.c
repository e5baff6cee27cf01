/*
 * ollaguard-keyctl usage: the usage table, summed over a range of UTC
 * days and grouped by key, model, day and/or user, as an aligned table
 * with a totals line, as JSON or as CSV.  Keys are shown by name, or by
 * id when they have none; the master key is "master" and a worker's
 * overflow row "other".
 */
#include <err.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "keystore.h"
#include "usage.h"
#include "keyctl.h"

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

#define NCOUNTS	4

struct urow {
	struct usage_row	 r;
	char			 key[KEYSTORE_NAME_MAX];
	int			 key_is_id;
};

struct ulist {
	struct keystore		*ks;
	struct urow		*rows;
	size_t			 n, cap;
	int			 failed;
};

static const char *const count_names[NCOUNTS] = {
	"requests", "errors", "prompt_tokens", "completion_tokens"
};

static const struct {
	int		 by;
	const char	*name;
} by_names[] = {
	{ USAGE_BY_KEY, "key" },
	{ USAGE_BY_MODEL, "model" },
	{ USAGE_BY_DAY, "day" },
	{ USAGE_BY_USER, "user" },
};
#define NBY	(sizeof(by_names) / sizeof(by_names[0]))

static int64_t
count(const struct usage_row *r, int i)
{
	switch (i) {
	case 0: return r->requests;
	case 1: return r->errors;
	case 2: return r->prompt_tokens;
	default: return r->completion_tokens;
	}
}

/* The text of a grouping column of a row. */
static const char *
field(const struct urow *u, int by)
{
	switch (by) {
	case USAGE_BY_KEY: return u->key;
	case USAGE_BY_MODEL: return u->r.model;
	case USAGE_BY_DAY: return u->r.day;
	default: return u->r.user;
	}
}

static void
key_label(struct keystore *ks, int64_t id, struct urow *u)
{
	struct keyinfo ki;

	u->key_is_id = 0;
	if (id == USAGE_KEY_MASTER)
		strlcpy(u->key, "master", sizeof(u->key));
	else if (id == USAGE_KEY_OTHER)
		strlcpy(u->key, "other", sizeof(u->key));
	else if (keystore_get_id(ks, id, &ki) == 0 && ki.name[0] != '\0')
		strlcpy(u->key, ki.name, sizeof(u->key));
	else {
		snprintf(u->key, sizeof(u->key), "%" PRId64, id);
		u->key_is_id = 1;
	}
}

static int
collect(const struct usage_row *r, void *arg)
{
	struct ulist *l = arg;
	struct urow *u;

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

static int
parse_by(const char *arg)
{
	char buf[64], *s, *p;
	size_t i;
	int by = 0;

	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf))
		keyctl_usage_error("--by: %s: too long", arg);
	for (p = buf; (s = strsep(&p, ",")) != NULL;) {
		for (i = 0; i < NBY; i++)
			if (strcmp(s, by_names[i].name) == 0)
				break;
		if (i == NBY)
			keyctl_usage_error("--by: %s: not key, model, day or "
			    "user", s);
		by |= by_names[i].by;
	}
	return by;
}

static void
put_table(const struct ulist *l, int by)
{
	int w[NBY + NCOUNTS], len;
	int64_t total[NCOUNTS] = { 0 };
	size_t i, j, c;
	const char *label;

	for (c = 0; c < NBY; c++)
		w[c] = (by & by_names[c].by) ? (int)strlen(by_names[c].name) : 0;
	for (c = 0; c < NCOUNTS; c++)
		w[NBY + c] = (int)strlen(count_names[c]);
	for (i = 0; i < l->n; i++)
		for (c = 0; c < NCOUNTS; c++)
			total[c] += count(&l->rows[i].r, c);
	/* The totals line is the widest a count gets, and "total" has to
	 * fit the first column. */
	for (c = 0; c < NCOUNTS; c++)
		if ((len = snprintf(NULL, 0, "%" PRId64, total[c])) >
		    w[NBY + c])
			w[NBY + c] = len;
	for (i = 0; i < l->n; i++)
		for (c = 0; c < NBY; c++)
			if ((by & by_names[c].by) && (len = (int)strlen(
			    field(&l->rows[i], by_names[c].by))) > w[c])
				w[c] = len;
	for (c = 0; c < NBY; c++)
		if (by & by_names[c].by) {
			if (w[c] < 5)
				w[c] = 5;
			break;
		}
	for (c = 0; c < NBY; c++)
		if (by & by_names[c].by)
			printf("%-*s  ", w[c], by_names[c].name);
	for (c = 0; c < NCOUNTS; c++)
		printf("%*s%s", w[NBY + c], count_names[c],
		    c + 1 < NCOUNTS ? "  " : "\n");
	for (i = 0; i <= l->n; i++) {
		label = "total";
		for (c = 0, j = 0; c < NBY; c++) {
			if (!(by & by_names[c].by))
				continue;
			printf("%-*s  ", w[c], i < l->n ?
			    field(&l->rows[i], by_names[c].by) :
			    j++ == 0 ? label : "");
		}
		for (c = 0; c < NCOUNTS; c++)
			printf("%*" PRId64 "%s", w[NBY + c], i < l->n ?
			    count(&l->rows[i].r, c) : total[c],
			    c + 1 < NCOUNTS ? "  " : "\n");
	}
}

/* RFC 4180: a field with a comma, quote or line end is quoted. */
static void
put_csv_field(const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void
put_csv(const struct ulist *l, int by)
{
	size_t i, c;

	for (c = 0; c < NBY; c++)
		if (by & by_names[c].by)
			printf("%s,", by_names[c].name);
	for (c = 0; c < NCOUNTS; c++)
		printf("%s%s", count_names[c], c + 1 < NCOUNTS ? "," : "\r\n");
	for (i = 0; i < l->n; i++) {
		for (c = 0; c < NBY; c++)
			if (by & by_names[c].by) {
				put_csv_field(field(&l->rows[i],
				    by_names[c].by));
				putchar(',');
			}
		for (c = 0; c < NCOUNTS; c++)
			printf("%" PRId64 "%s", count(&l->rows[i].r, c),
			    c + 1 < NCOUNTS ? "," : "\r\n");
	}
}

static int
put_json(const struct ulist *l, int by)
{
	json_t *a, *o, *v;
	const struct urow *u;
	size_t i, c;
	int rc = -1;

	if ((a = json_array()) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		u = &l->rows[i];
		if ((o = json_object()) == NULL || json_array_append_new(a, o))
			goto done;
		for (c = 0; c < NBY; c++) {
			if (!(by & by_names[c].by))
				continue;
			v = by_names[c].by == USAGE_BY_KEY && u->key_is_id ?
			    json_integer(u->r.key_id) :
			    json_string(field(u, by_names[c].by));
			if (json_object_set_new(o, by_names[c].name, v) == -1)
				goto done;
		}
		for (c = 0; c < NCOUNTS; c++)
			if (json_object_set_new(o, count_names[c],
			    json_integer(count(&u->r, c))) == -1)
				goto done;
	}
	if (json_dumpf(a, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF)
		rc = 0;
 done:
	json_decref(a);
	return rc;
}

/* The key an argument names: an id (digits) or a name. */
static int64_t
find_key(struct keystore *ks, const char *arg)
{
	struct keyinfo ki;
	const char *errstr;
	int64_t id;
	int rc;

	if (arg[0] != '\0' && strspn(arg, "0123456789") == strlen(arg)) {
		id = strtonum(arg, 1, LLONG_MAX, &errstr);
		if (errstr != NULL)
			keyctl_usage_error("id %s: %s", arg, errstr);
		rc = keystore_get_id(ks, id, &ki);
	} else
		rc = keystore_get_name(ks, arg, &ki);
	if (rc == KEYSTORE_NOTFOUND)
		errx(KEYCTL_FAIL, "usage: %s: no key has that id or name", arg);
	if (rc != 0)
		errx(KEYCTL_FAIL, "usage: %s: %s", keyctl_dbname(),
		    keystore_errmsg(ks));
	return ki.id;
}

int
do_usage(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "by", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct usage_filter f;
	struct ulist l;
	struct sqlite3 *db;
	const char *errstr;
	char err[512];
	int ch, fmt = FMT_TABLE, present, rc = KEYCTL_OK;
	int64_t now = keyctl_now();

	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	f.by = USAGE_BY_KEY | USAGE_BY_MODEL;
	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1) {
		switch (ch) {
		case 's':
		case 'u':
			if (usage_parse_day(optarg, now, ch == 's' ? f.since :
			    f.until, &errstr) == -1)
				keyctl_usage_error("--%s: %s: %s", ch == 's' ?
				    "since" : "until", optarg, errstr);
			break;
		case 'b':
			f.by = parse_by(optarg);
			break;
		case 'j':
		case 'c':
			if (fmt != FMT_TABLE)
				keyctl_usage_error("--json and --csv exclude "
				    "each other");
			fmt = ch == 'j' ? FMT_JSON : FMT_CSV;
			break;
		}
	}
	if (argc - optind > 1)
		keyctl_usage_error("too many arguments");
	l.ks = keyctl_open(KEYSTORE_NOCREATE);
	if (optind < argc)
		f.key_id = find_key(l.ks, argv[optind]);
	if ((db = usage_open(keyctl_dbname(), err, sizeof(err))) == NULL)
		errx(KEYCTL_FAIL, "usage: %s", err);
	/* A database from before usage metering has none to show. */
	if ((present = usage_present(db)) == -1 ||
	    (present && usage_query(db, &f, collect, &l) == -1)) {
		warnx("usage: %s: %s", keyctl_dbname(), l.failed ?
		    "out of memory" : sqlite3_errmsg(db));
		rc = KEYCTL_FAIL;
	} else if (fmt == FMT_JSON) {
		if (put_json(&l, f.by) == -1)
			rc = KEYCTL_FAIL;
	} else if (fmt == FMT_CSV)
		put_csv(&l, f.by);
	else
		put_table(&l, f.by);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("usage: standard output");
		rc = KEYCTL_FAIL;
	}
	free(l.rows);
	sqlite3_close(db);
	keystore_close(l.ks);
	return rc;
}
