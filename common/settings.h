/*
 * settings: the table of every setting (settings.c), for config.c,
 * which applies it.  Callers use config.h.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stddef.h>

enum config_type {
	CONF_STR,
	CONF_NUM,
	CONF_BOOL,	/* a flag without a value; yes/no elsewhere */
	CONF_LIST	/* target-url: may be given several times */
};

struct setting {
	const char	*name;		/* flag without dashes; file key */
	const char	*env;
	enum config_type type;
	size_t		 off;
	size_t		 size;
	long long	 min, max;
	const char	*def;
	const char	*arg;		/* placeholder in --help */
	int		 (*check)(const char *, const char **);
	const char	*help;
};

extern const struct setting	 settings[];
extern const size_t		 nsettings;

/* The setting named name[0, len), or NULL. */
const struct setting	*setting_find(const char *name, size_t len);
/* 1 for an upstream URL, which may carry a password: never echoed. */
int			 setting_is_url(const struct setting *);

#endif
