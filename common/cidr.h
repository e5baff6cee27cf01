/*
 * cidr: lists of address ranges ("127.0.0.0/8,::1/128") and whether an
 * address is in one, for admin-allow.  An IPv4-mapped IPv6 address is
 * matched as the IPv4 address it carries.
 */
#ifndef CIDR_H
#define CIDR_H

#include <stdint.h>

#define CIDR_LIST_MAX	32

struct cidr {
	int		 af;		/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	int		 bits;
};

struct cidr_list {
	int		 n;
	struct cidr	 c[CIDR_LIST_MAX];
};

/* Ranges separated by commas or blanks; a bare address is one host.
 * -1 with *why on a bad range. */
int	cidr_list_parse(const char *s, struct cidr_list *, const char **why);
/* 1 if the address (text, as inet_ntop writes it) is in the list. */
int	cidr_list_match(const struct cidr_list *, const char *addr);

#endif
