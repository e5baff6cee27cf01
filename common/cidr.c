/*
 * cidr: address ranges for admin-allow, parsed once when the settings
 * are read and matched against a client's address text.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "cidr.h"

static int
cidr_parse_one(char *s, struct cidr *c, const char **why)
{
	char *slash;
	const char *errstr;
	int max;

	if ((slash = strchr(s, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, s, c->addr) == 1) {
		c->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, s, c->addr) == 1) {
		c->af = AF_INET6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address range";
		return -1;
	}
	c->bits = max;
	if (slash != NULL) {
		c->bits = (int)strtonum(slash, 0, max, &errstr);
		if (errstr != NULL) {
			*why = "the prefix length is out of range";
			return -1;
		}
	}
	return 0;
}

int
cidr_list_parse(const char *s, struct cidr_list *l, const char **why)
{
	char buf[1024], *p, *tok;

	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf)) {
		*why = "too long";
		return -1;
	}
	l->n = 0;
	for (p = buf; (tok = strsep(&p, ", \t")) != NULL;) {
		if (*tok == '\0')
			continue;
		if (l->n == CIDR_LIST_MAX) {
			*why = "more than 32 ranges";
			return -1;
		}
		if (cidr_parse_one(tok, &l->c[l->n], why) == -1)
			return -1;
		l->n++;
	}
	return 0;
}

static int
cidr_in(const struct cidr *c, const uint8_t *a)
{
	int full = c->bits / 8, rest = c->bits % 8;
	uint8_t mask;

	if (memcmp(c->addr, a, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

int
cidr_list_match(const struct cidr_list *l, const char *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	uint8_t a4[4], a6[16];
	int i, is4 = 0, is6 = 0;

	if (inet_pton(AF_INET, addr, a4) == 1)
		is4 = 1;
	else if (inet_pton(AF_INET6, addr, a6) == 1) {
		is6 = 1;
		if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
			memcpy(a4, a6 + 12, 4);
			is4 = 1;
		}
	}
	for (i = 0; i < l->n; i++) {
		if (l->c[i].af == AF_INET && is4 && cidr_in(&l->c[i], a4))
			return 1;
		if (l->c[i].af == AF_INET6 && is6 && cidr_in(&l->c[i], a6))
			return 1;
	}
	return 0;
}
