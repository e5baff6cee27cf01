/*
 * cidr: network lists for trusted-proxies.  A list is parsed once per
 * configuration into a fixed array; a match is a walk over it, which
 * for the handful of balancers a site has costs less than any index.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

/* Parses one textual address into family and 16 bytes. */
static int
addr_parse(const char *s, int *family, uint8_t out[16])
{
	struct in6_addr a6;

	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -1;
	/* ::ffff:10.0.0.1 is the IPv4 address a dual-stack socket shows. */
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(out, &a6.s6_addr[12], 4);
		*family = AF_INET;
		return 0;
	}
	memcpy(out, &a6, 16);
	*family = AF_INET6;
	return 0;
}

static int
net_parse(const char *s, struct cidr *c, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	const char *e = NULL;
	int i, max, mapped;

	if (strlen(s) >= sizeof(buf)) {
		*why = "a network is too long";
		return -1;
	}
	strlcpy(buf, s, sizeof(buf));
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (addr_parse(buf, &c->family, c->addr) == -1) {
		*why = "holds something that is not an IP address or network";
		return -1;
	}
	max = c->family == AF_INET ? 32 : 128;
	c->bits = max;
	if (slash != NULL) {
		/* ::ffff:10.0.0.0/104 means 10.0.0.0/8. */
		mapped = c->family == AF_INET && strchr(buf, ':') != NULL;
		c->bits = (int)strtonum(slash, mapped ? 96 : 0,
		    mapped ? 128 : max, &e) - (mapped ? 96 : 0);
		if (e != NULL) {
			*why = "holds a network length out of range";
			return -1;
		}
	}
	for (i = c->bits; i < max; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return 0;
}

int
cidr_parse_list(const char *s, struct cidr_list *l, const char **why)
{
	char tok[INET6_ADDRSTRLEN + 8];
	size_t len;

	l->n = 0;
	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			return 0;
		len = strcspn(s, ", \t");
		if (len >= sizeof(tok)) {
			*why = "a network is too long";
			return -1;
		}
		if (l->n == CIDR_LIST_MAX) {
			*why = "holds too many networks (at most 64)";
			return -1;
		}
		memcpy(tok, s, len);
		tok[len] = '\0';
		if (net_parse(tok, &l->net[l->n], why) == -1)
			return -1;
		l->n++;
		s += len;
	}
}

int
cidr_match(const struct cidr_list *l, const char *addr)
{
	const struct cidr *c;
	uint8_t a[16];
	int family, i, full, rest;

	if (l->n == 0 || addr_parse(addr, &family, a) == -1)
		return 0;
	for (i = 0; i < l->n; i++) {
		c = &l->net[i];
		if (c->family != family)
			continue;
		full = c->bits / 8;
		rest = c->bits % 8;
		if (memcmp(a, c->addr, (size_t)full) != 0)
			continue;
		if (rest == 0 ||
		    (a[full] & (uint8_t)(0xff00 >> rest)) == c->addr[full])
			return 1;
	}
	return 0;
}
