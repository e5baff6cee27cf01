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
#include "usagelist.h"
#include "keyctl.h"

enum { FMT_TABLE, FMT_JSON, FMT_CSV };

#define NBY	USAGELIST_NBY
#define NCOUNTS	USAGELIST_NCOUNTS


static int
parse_by(const char *arg)
{
	const char *bad;
	int by;

	if (usagelist_parse_by(arg, &by, &bad) == -1)
		keyctl_usage_error("--by: %s: not key, model, day or user",
		    bad);
	return by;
}

static void
put_table(const struct usagelist *l, int by)
{
	const struct usagelist_by *bn = usagelist_by_names;
	int w[NBY + NCOUNTS], len;
	int64_t total[NCOUNTS] = { 0 };
	size_t i, j, c;
	const char *label;

	for (c = 0; c < NBY; c++)
		w[c] = (by & bn[c].by) ?
		    (int)strlen(bn[c].name) : 0;
	for (c = 0; c < NCOUNTS; c++)
		w[NBY + c] = (int)strlen(usagelist_count_names[c]);
	for (i = 0; i < l->n; i++)
		for (c = 0; c < NCOUNTS; c++)
			total[c] += usagelist_count(&l->rows[i].r, c);
	/* The totals line is the widest a count gets, and "total" has to
	 * fit the first column. */
	for (c = 0; c < NCOUNTS; c++)
		if ((len = snprintf(NULL, 0, "%" PRId64, total[c])) >
		    w[NBY + c])
			w[NBY + c] = len;
	for (i = 0; i < l->n; i++)
		for (c = 0; c < NBY; c++)
			if ((by & bn[c].by) && (len = (int)strlen(
			    usagelist_field(&l->rows[i], bn[c].by))) > w[c])
				w[c] = len;
	for (c = 0; c < NBY; c++)
		if (by & bn[c].by) {
			if (w[c] < 5)
				w[c] = 5;
			break;
		}
	for (c = 0; c < NBY; c++)
		if (by & bn[c].by)
			printf("%-*s  ", w[c], bn[c].name);
	for (c = 0; c < NCOUNTS; c++)
		printf("%*s%s", w[NBY + c], usagelist_count_names[c],
		    c + 1 < NCOUNTS ? "  " : "\n");
	for (i = 0; i <= l->n; i++) {
		label = "total";
		for (c = 0, j = 0; c < NBY; c++) {
			if (!(by & bn[c].by))
				continue;
			printf("%-*s  ", w[c], i < l->n ?
			    usagelist_field(&l->rows[i], bn[c].by) :
			    j++ == 0 ? label : "");
		}
		for (c = 0; c < NCOUNTS; c++)
			printf("%*" PRId64 "%s", w[NBY + c], i < l->n ?
			    usagelist_count(&l->rows[i].r, c) : total[c],
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
put_csv(const struct usagelist *l, int by)
{
	const struct usagelist_by *bn = usagelist_by_names;
	size_t i, c;

	for (c = 0; c < NBY; c++)
		if (by & bn[c].by)
			printf("%s,", bn[c].name);
	for (c = 0; c < NCOUNTS; c++)
		printf("%s%s", usagelist_count_names[c],
		    c + 1 < NCOUNTS ? "," : "\r\n");
	for (i = 0; i < l->n; i++) {
		for (c = 0; c < NBY; c++)
			if (by & bn[c].by) {
				put_csv_field(usagelist_field(&l->rows[i],
				    bn[c].by));
				putchar(',');
			}
		for (c = 0; c < NCOUNTS; c++)
			printf("%" PRId64 "%s",
			    usagelist_count(&l->rows[i].r, c),
			    c + 1 < NCOUNTS ? "," : "\r\n");
	}
}

static int
put_json(const struct usagelist *l, int by)
{
	json_t *a;
	int rc = -1;

	if ((a = usagelist_json(l, by)) == NULL)
		return -1;
	if (json_dumpf(a, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF)
		rc = 0;
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
	struct usagelist l;
	struct sqlite3 *db;
	const char *errstr;
	char err[512];
	int ch, fmt = FMT_TABLE, rc = KEYCTL_OK;
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
	if (usagelist_query(db, &f, &l) == -1) {
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
	usagelist_free(&l);
	sqlite3_close(db);
	keystore_close(l.ks);
	return rc;
}
