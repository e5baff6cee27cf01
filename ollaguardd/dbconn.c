/*
 * dbconn: an open SQLite connection keeps reading the file it opened
 * even after that file is renamed over, deleted or made unreadable.  For
 * an authentication proxy that would mean trusting a database the
 * operator has replaced or locked away, so once a second (never more:
 * this is on the request path) the file is looked at again: a new inode
 * means reopen, and a file this user can no longer read and write means
 * the database is unavailable until it can.
 */
#include <sys/stat.h>

#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbconn.h"
#include "keystore.h"
#include "log.h"

static struct keystore	*ks;
static char		 path[PATH_MAX];
static dev_t		 dev;
static ino_t		 ino;
static time_t		 checked;
static int		 down_logged;

static int
reopen(void)
{
	char err[PATH_MAX + 512];
	struct stat st;

	if (ks != NULL)
		keystore_close(ks);
	ks = NULL;
	if (stat(path, &st) == -1 || access(path, R_OK | W_OK) == -1) {
		if (!down_logged)
			log_warn("key database %s unavailable: requests that "
			    "need it get 503", path);
		down_logged = 1;
		return -1;
	}
	if ((ks = keystore_open(path, KEYSTORE_DURABLE | KEYSTORE_NOCREATE,
	    err, sizeof(err))) == NULL) {
		if (!down_logged)
			log_warnx("key database unavailable: %s: requests "
			    "that need it get 503", err);
		down_logged = 1;
		return -1;
	}
	dev = st.st_dev;
	ino = st.st_ino;
	if (down_logged)
		log_info("key database %s is available again", path);
	down_logged = 0;
	return 0;
}

int
dbconn_open(const char *p)
{
	strlcpy(path, p, sizeof(path));
	checked = time(NULL);
	return reopen();
}

struct keystore *
dbconn_get(void)
{
	struct stat st;
	time_t now = time(NULL);

	if (now == checked)
		return ks;
	checked = now;
	if (ks != NULL && stat(path, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino && access(path, R_OK | W_OK) == 0)
		return ks;
	reopen();
	return ks;
}

void
dbconn_close(void)
{
	if (ks != NULL)
		keystore_close(ks);
	ks = NULL;
}
