/*
 * usagelist: the usage table's grouped rows with each key's label, and
 * their JSON, one way for `ollaguard-keyctl usage` and the daemon's
 * GET /admin/api/usage: the same query gives the same numbers.
 */
#ifndef USAGELIST_H
#define USAGELIST_H

#include <stddef.h>
#include <stdint.h>

#include "keystore.h"
#include "usage.h"

struct json_t;
struct sqlite3;

#define USAGELIST_NCOUNTS	4
#define USAGELIST_NBY		4

/* One group: its sums and the label of its key (name, or id). */
struct usagelist_row {
	struct usage_row	 r;
	char			 key[KEYSTORE_NAME_MAX];
	int			 key_is_id;
};

struct usagelist {
	struct keystore		*ks;	/* for the keys' names */
	struct usagelist_row	*rows;
	size_t			 n, cap;
	int			 failed;	/* out of memory */
};

/* The names of the counts ("requests", ...) and the groupings. */
extern const char *const usagelist_count_names[USAGELIST_NCOUNTS];
extern const struct usagelist_by {
	int		 by;
	const char	*name;
} usagelist_by_names[USAGELIST_NBY];

int64_t		 usagelist_count(const struct usage_row *, int i);
/* The text of a grouping column of a row. */
const char	*usagelist_field(const struct usagelist_row *, int by);
/* "key,model" into USAGE_BY_* bits; -1 with the bad word in *bad. */
int		 usagelist_parse_by(const char *s, int *by, const char **bad);
/*
 * Runs the query into l (l->ks set by the caller); 0, or -1 on a
 * database error or out of memory (l->failed).  A database without the
 * usage table gives no rows.
 */
int		 usagelist_query(struct sqlite3 *, const struct usage_filter *,
		    struct usagelist *l);
/* The rows as keyctl usage --json writes them; NULL if out of memory. */
struct json_t	*usagelist_json(const struct usagelist *, int by);
void		 usagelist_free(struct usagelist *);

#endif
