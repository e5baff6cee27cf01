/*
 * ollaguard-keyctl list: every key's metadata as an aligned table or as
 * JSON, never a key.  The table takes two passes over the database, one
 * to measure the columns and one to print, so a million keys cost no
 * memory.
 */
#include <err.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "keyjson.h"
#include "keypolicy.h"
#include "keystore.h"
#include "timefmt.h"
#include "keyctl.h"

#define LIST_NONE	"-"

struct widths {
	int	id;
	int	name;
	int	hint;
	int	requests;
};

struct list {
	struct widths	w;
	int64_t		now;
	long		n;
	int		failed;		/* a key could not be shown */
};

static int		 columns(const char *);
static void		 put_cell(const char *, int);
static void		 put_time(int64_t, char *, size_t);
static int		 measure(const struct keyinfo *, void *);
static int		 print_row(const struct keyinfo *, void *);
static int		 print_json(const struct keyinfo *, void *);

/* Terminal columns of UTF-8 text: one per character, as for a hint's
 * "…" or an accented name. */
static int
columns(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		if ((*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
put_cell(const char *s, int width)
{
	int	pad;

	fputs(s, stdout);
	for (pad = width - columns(s); pad > 0; pad--)
		putchar(' ');
	putchar(' ');
	putchar(' ');
}

static void
put_time(int64_t t, char *buf, size_t len)
{
	if (t == 0)
		strlcpy(buf, LIST_NONE, len);
	else
		timefmt_iso(t, buf, len);
}

static int
measure(const struct keyinfo *ki, void *arg)
{
	struct widths	*w = arg;
	int		 n;

	if ((n = snprintf(NULL, 0, "%" PRId64, ki->id)) > w->id)
		w->id = n;
	if ((n = columns(ki->name)) > w->name)
		w->name = n;
	if ((n = columns(ki->hint)) > w->hint)
		w->hint = n;
	if ((n = snprintf(NULL, 0, "%" PRId64, ki->requests)) > w->requests)
		w->requests = n;
	return 0;
}

static int
print_row(const struct keyinfo *ki, void *arg)
{
	struct list	*l = arg;
	char		 created[TIMEFMT_ISO_LEN], expires[TIMEFMT_ISO_LEN];
	char		 used[TIMEFMT_ISO_LEN];

	put_time(ki->created_at, created, sizeof(created));
	put_time(ki->expires_at, expires, sizeof(expires));
	put_time(ki->last_used_at, used, sizeof(used));
	printf("%*" PRId64 "  ", l->w.id, ki->id);
	put_cell(ki->name[0] != '\0' ? ki->name : LIST_NONE, l->w.name);
	put_cell(ki->hint[0] != '\0' ? ki->hint : LIST_NONE, l->w.hint);
	put_cell(created, TIMEFMT_ISO_LEN - 1);
	put_cell(expires, TIMEFMT_ISO_LEN - 1);
	put_cell(used, TIMEFMT_ISO_LEN - 1);
	printf("%*" PRId64 "  %s\n", l->w.requests, ki->requests,
	    keystore_state_name(keystore_key_state(ki, l->now)));
	return ferror(stdout) ? -1 : 0;
}

json_t *
keyctl_key_json(const struct keyinfo *ki, int64_t now)
{
	json_t	*o;

	if ((o = keyjson_key_object(ki, KEYJSON_LIST, now)) == NULL) {
		warnx("%s: key %" PRId64 ": its name or hint is not UTF-8",
		    keyctl_cmdname(), ki->id);
		return NULL;
	}
	return o;
}

static int
print_json(const struct keyinfo *ki, void *arg)
{
	struct list	*l = arg;
	json_t		*o;
	int		 rc = -1;

	if ((o = keyctl_key_json(ki, l->now)) == NULL) {
		l->failed = 1;
		return -1;
	}
	if (fputs(l->n++ == 0 ? "\n" : ",\n", stdout) != EOF &&
	    json_dumpf(o, stdout, 0) != -1)
		rc = 0;
	json_decref(o);
	return rc;
}

int
do_list(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keystore			*ks;
	struct list			 l;
	int				 ch, json = 0, rc;

	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1)
		if (ch == 'j')
			json = 1;
	if (optind != argc)
		keyctl_usage_error("%s: unexpected argument", argv[optind]);

	ks = keyctl_open(KEYSTORE_NOCREATE);
	memset(&l, 0, sizeof(l));
	l.now = time(NULL);
	if (json) {
		fputs("[", stdout);
		if ((rc = keystore_list(ks, print_json, &l)) == 0)
			fputs(l.n == 0 ? "]\n" : "\n]\n", stdout);
	} else {
		l.w.id = strlen("ID");
		l.w.name = strlen("NAME");
		l.w.hint = strlen("HINT");
		l.w.requests = strlen("REQUESTS");
		if ((rc = keystore_list(ks, measure, &l.w)) == 0) {
			printf("%*s  ", l.w.id, "ID");
			put_cell("NAME", l.w.name);
			put_cell("HINT", l.w.hint);
			put_cell("CREATED", TIMEFMT_ISO_LEN - 1);
			put_cell("EXPIRES", TIMEFMT_ISO_LEN - 1);
			put_cell("LAST USED", TIMEFMT_ISO_LEN - 1);
			printf("%*s  %s\n", l.w.requests, "REQUESTS", "STATE");
			rc = keystore_list(ks, print_row, &l);
		}
	}
	if (fflush(stdout) == EOF || ferror(stdout))
		err(KEYCTL_FAIL, "list: standard output");
	if (rc != 0)
		errx(KEYCTL_FAIL, "list: %s: %s", keyctl_dbname(),
		    keystore_errmsg(ks));
	keystore_close(ks);
	return l.failed ? KEYCTL_FAIL : KEYCTL_OK;
}
