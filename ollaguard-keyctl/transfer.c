/*
 * ollaguard-keyctl import and export: moving keys between the database
 * and JSON files.  Import checks the whole file before it opens the
 * database, so a bad file neither creates nor changes one.  Export to a
 * file goes through a temporary file in the same directory, renamed over
 * the target once it is on disk, so no reader ever sees half an export.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyjson.h"
#include "keystore.h"
#include "keyctl.h"

#define READ_CHUNK	(64 * 1024)

static char	*read_all(const char *, size_t *);
static void	 export_file(struct keystore *, const char *);

/* The whole file (or standard input for "-"); NULL with errno set. */
static char *
read_all(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf = NULL, *nbuf;
	size_t		 cap = READ_CHUNK, len = 0;
	ssize_t		 n;
	int		 fd, saved;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		goto fail;
	for (;;) {
		if (len == cap) {
			if (cap > SIZE_MAX / 2) {
				errno = EFBIG;
				goto fail;
			}
			/* Not realloc: the old copy of the keys is wiped. */
			if ((nbuf = malloc(cap * 2)) == NULL)
				goto fail;
			memcpy(nbuf, buf, len);
			explicit_bzero(buf, len);
			free(buf);
			buf = nbuf;
			cap *= 2;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*lenp = len;
	return buf;
 fail:
	saved = errno;
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	errno = saved;
	return NULL;
}

int
do_import(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "allow-short", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keyjson_counts		 c;
	struct keystore			*ks;
	struct keyjson			*kj;
	const char			*path, *what;
	char				*buf, msg[512];
	size_t				 len, nshort, first = 0;
	int64_t				 nusage;
	int				 ch, allow_short = 0;

	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1)
		if (ch == 's')
			allow_short = 1;
	if (argc - optind != 1)
		keyctl_usage_error(argc == optind ? "no file given" :
		    "one file at a time");
	path = argv[optind];
	what = strcmp(path, "-") == 0 ? "standard input" : path;

	if ((buf = read_all(path, &len)) == NULL)
		err(KEYCTL_FAIL, "import: %s", what);
	if ((kj = keyjson_load(buf, len, msg, sizeof(msg))) == NULL)
		errx(KEYCTL_FAIL, "import: %s: %s; nothing imported", what,
		    msg);
	if (*keyjson_unknown(kj) != '\0')
		warnx("import: %s: fields not read: %s", what,
		    keyjson_unknown(kj));
	/* All or nothing, as for any other bad entry. */
	nshort = keyjson_short(kj, KEYJSON_KEY_MIN, &first);
	if (nshort > 0 && !allow_short)
		errx(KEYCTL_FAIL, "import: %s: %zu key%s shorter than %d "
		    "characters (the first is entry %zu, counted from 0); "
		    "nothing imported (--allow-short imports them)", what,
		    nshort, nshort == 1 ? "" : "s", KEYJSON_KEY_MIN, first);
	keyjson_set_allow(kj, keyctl_default_allow());

	ks = keyctl_open(KEYSTORE_DURABLE);
	if (keyjson_store(ks, kj, &c, msg, sizeof(msg)) == -1)
		errx(KEYCTL_FAIL, "import: %s into %s: %s; nothing imported",
		    what, keyctl_dbname(), msg);
	keyjson_free(kj);
	if ((nusage = usagexfer_import(ks, buf, len, msg, sizeof(msg))) == -1)
		errx(KEYCTL_FAIL, "import: %s into %s: the keys were "
		    "imported, the usage was not: %s", what, keyctl_dbname(),
		    msg);
	keystore_close(ks);
	explicit_bzero(buf, len);
	free(buf);

	printf("%ld key%s added, %ld skipped (already present)\n", c.added,
	    c.added == 1 ? "" : "s", c.skipped);
	if (nusage > 0)
		printf("%lld usage row%s added\n", (long long)nusage,
		    nusage == 1 ? "" : "s");
	if (fflush(stdout) == EOF)
		err(KEYCTL_FAIL, "import: standard output");
	if (c.unnamed != 0)
		warnx("import: %s: %ld key%s imported without %s name: an "
		    "active key has it, or it is not a valid name", what,
		    c.unnamed, c.unnamed == 1 ? "" : "s",
		    c.unnamed == 1 ? "its" : "their");
	return KEYCTL_OK;
}

static int	with_usage;

/* The keys, and with --with-usage the usage table, to out. */
static int
export_to(struct keystore *ks, FILE *out, char *msg, size_t len)
{
	return keyjson_export_extra(ks, out, with_usage ? usagexfer_export :
	    NULL, ks, msg, len);
}

static void
export_file(struct keystore *ks, const char *path)
{
	FILE	*fp;
	char	 dcopy[PATH_MAX], bcopy[PATH_MAX], tmp[PATH_MAX], msg[512];
	char	*dir, *base;
	int	 fd, dfd;

	if (strlcpy(dcopy, path, sizeof(dcopy)) >= sizeof(dcopy) ||
	    strlcpy(bcopy, path, sizeof(bcopy)) >= sizeof(bcopy))
		errx(KEYCTL_FAIL, "export: %s: path too long", path);
	dir = dirname(dcopy);
	base = basename(bcopy);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >=
	    sizeof(tmp))
		errx(KEYCTL_FAIL, "export: %s: path too long", path);
	if ((fd = mkstemp(tmp)) == -1)
		err(KEYCTL_FAIL, "export: %s: cannot create a file in %s",
		    path, dir);
	/* mkstemp's mode is 0600 less the umask; make it exactly that. */
	if (fchmod(fd, 0600) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		warn("export: %s", tmp);
		close(fd);
		goto fail;
	}
	if (export_to(ks, fp, msg, sizeof(msg)) == -1) {
		warnx("export: %s: %s", path, msg);
		fclose(fp);
		goto fail;
	}
	if (fsync(fileno(fp)) == -1) {
		warn("export: %s: fsync", tmp);
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) == EOF) {
		warn("export: %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		warn("export: %s", path);
		goto fail;
	}
	/* The rename itself must reach the disk too. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (fsync(dfd) == -1 && errno != EINVAL))
		err(KEYCTL_FAIL, "export: %s: fsync", dir);
	close(dfd);
	return;
 fail:
	unlink(tmp);
	exit(KEYCTL_FAIL);
}

int
do_export(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "with-usage", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct keystore			*ks;
	const char			*path = "-";
	char				 msg[512];
	int				 ch;

	while ((ch = keyctl_getopt(argc, argv, ":h", opts)) != -1)
		if (ch == 'u')
			with_usage = 1;
	if (argc - optind > 1)
		keyctl_usage_error("one file at a time");
	if (argc - optind == 1)
		path = argv[optind];

	ks = keyctl_open(KEYSTORE_NOCREATE);
	if (strcmp(path, "-") != 0)
		export_file(ks, path);
	else if (export_to(ks, stdout, msg, sizeof(msg)) == -1)
		errx(KEYCTL_FAIL, "export: %s", msg);
	keystore_close(ks);
	return KEYCTL_OK;
}
