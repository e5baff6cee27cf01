/*
 * cidr: lists of networks (10.0.0.0/8, 2001:db8::/32, 127.0.0.1) and
 * whether an address falls in one of them, for trusted-proxies.
 */
#ifndef CIDR_H
#define CIDR_H

#include <stdint.h>

#define CIDR_LIST_MAX	64

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	int		 bits;
	uint8_t		 addr[16];	/* host bits cleared */
};

struct cidr_list {
	struct cidr	 net[CIDR_LIST_MAX];
	int		 n;
};

/*
 * Parses networks separated by commas and/or spaces; an address without
 * a length is a network of one.  0, or -1 with *why set.
 */
int	cidr_parse_list(const char *s, struct cidr_list *l, const char **why);
/* 1 if the printed address (IPv4, IPv6, IPv4-mapped IPv6) is in l. */
int	cidr_match(const struct cidr_list *l, const char *addr);

#endif
