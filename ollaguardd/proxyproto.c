/*
 * proxyproto: the PROXY protocol (HAProxy's, version 1 and 2, as
 * https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt defines
 * them) and X-Forwarded-For, parsed strictly: one header, whole, at
 * the very start, or nothing.  Both are only believed from addresses in
 * trusted-proxies; realip decides when to ask.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "proxyproto.h"
#include "request.h"

static const unsigned char v1_sig[] = "PROXY ";
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Prints a v4, v6 or v4-mapped v6 address the way client.c does. */
static void
print_addr(int family, const void *a, char *out, size_t outlen)
{
	const struct in6_addr *a6 = a;

	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6))
		inet_ntop(AF_INET, &a6->s6_addr[12], out, outlen);
	else
		inet_ntop(family, a, out, outlen);
}

/* A port: 1 to 5 digits, 0 to 65535, no leading zero. */
static int
v1_port(const char *s)
{
	size_t n = strlen(s), i;
	long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? 0 : -1;
}

/* "TCP4 src dst sport dport" (the line without "PROXY " and CRLF). */
static int
v1_fields(char *line, struct proxyproto *pp)
{
	char *f[5], *p = line;
	unsigned char a[sizeof(struct in6_addr)];
	int i, family;

	if (strncmp(line, "UNKNOWN", 7) == 0 &&
	    (line[7] == '\0' || line[7] == ' '))
		return 0;
	for (i = 0; i < 5; i++) {
		f[i] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
		else if (i < 4)
			return -1;
	}
	if (p != NULL)
		return -1;	/* a sixth field */
	if (strcmp(f[0], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		family = AF_INET6;
	else
		return -1;
	if (inet_pton(family, f[2], a) != 1 || v1_port(f[3]) == -1 ||
	    v1_port(f[4]) == -1 || inet_pton(family, f[1], a) != 1)
		return -1;
	print_addr(family, a, pp->addr, sizeof(pp->addr));
	return 0;
}

static int
v1_parse(const unsigned char *buf, size_t len, struct proxyproto *pp)
{
	char line[PROXYPROTO_V1_MAX + 1];
	size_t i;

	for (i = 0; i < len && i < PROXYPROTO_V1_MAX; i++) {
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (buf[i + 1] != '\n' || i < sizeof(v1_sig) - 1)
				return -1;
			memcpy(line, buf + 6, i - 6);
			line[i - 6] = '\0';
			return v1_fields(line, pp) == -1 ? -1 : (int)i + 2;
		}
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return -1;
	}
	return len < PROXYPROTO_V1_MAX ? 0 : -1;
}

static int
v2_parse(const unsigned char *buf, size_t len, struct proxyproto *pp)
{
	size_t body;
	int cmd, fam, proto;

	if (len < 16)
		return 0;
	if ((buf[12] >> 4) != 2)
		return -1;
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	body = (size_t)buf[14] << 8 | buf[15];
	if (cmd > 1 || fam > 3 || proto > 2 || body > PROXYPROTO_V2_TLV_MAX)
		return -1;
	if (len < 16 + body)
		return 0;
	/* LOCAL: the balancer's own connection (a health check). */
	if (cmd == 0)
		return (int)(16 + body);
	if (proto == 2)
		return -1;	/* a datagram's header on a stream */
	if (fam == 1 && proto == 1) {
		if (body < 12)
			return -1;
		print_addr(AF_INET, buf + 16, pp->addr, sizeof(pp->addr));
	} else if (fam == 2 && proto == 1) {
		if (body < 36)
			return -1;
		print_addr(AF_INET6, buf + 16, pp->addr, sizeof(pp->addr));
	}
	return (int)(16 + body);
}

int
proxyproto_parse(const unsigned char *buf, size_t len,
    struct proxyproto *pp)
{
	size_t n;

	pp->addr[0] = '\0';
	if (len == 0)
		return 0;
	n = len < 6 ? len : 6;
	if (memcmp(buf, v1_sig, n) == 0)
		return v1_parse(buf, len, pp);
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(buf, v2_sig, n) == 0)
		return v2_parse(buf, len, pp);
	return -1;
}

/*
 * One X-Forwarded-For entry: an address, perhaps "[v6]:port" or
 * "v4:port" as some balancers write it.  0 with out set, or -1.
 */
static int
xff_entry(const char *s, size_t len, char *out, size_t outlen)
{
	char buf[INET6_ADDRSTRLEN + 8], *colon;
	unsigned char a[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		if ((colon = strchr(buf, ']')) == NULL ||
		    (colon[1] != '\0' && colon[1] != ':'))
			return -1;
		*colon = '\0';
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
		if (inet_pton(AF_INET6, buf, a) != 1)
			return -1;
		print_addr(AF_INET6, a, out, outlen);
		return 0;
	}
	if ((colon = strchr(buf, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL)
		*colon = '\0';	/* v4:port */
	if (inet_pton(AF_INET, buf, a) == 1)
		print_addr(AF_INET, a, out, outlen);
	else if (inet_pton(AF_INET6, buf, a) == 1)
		print_addr(AF_INET6, a, out, outlen);
	else
		return -1;
	return 0;
}

int
proxyproto_xff(const struct header *hdr, int nhdr,
    const struct cidr_list *trusted, char *out, size_t outlen)
{
	char addr[INET6_ADDRSTRLEN];
	const char *v, *end, *start, *a, *b;
	int i, found = 0;

	for (i = nhdr - 1; i >= 0; i--) {
		if (hdr[i].namelen != 15 ||
		    strncasecmp(hdr[i].name, "x-forwarded-for", 15) != 0)
			continue;
		v = hdr[i].value;
		end = v + hdr[i].valuelen;
		while (end > v) {
			for (start = end; start > v && start[-1] != ','; )
				start--;
			for (a = start; a < end && (*a == ' ' || *a == '\t'); )
				a++;
			for (b = end; b > a && (b[-1] == ' ' || b[-1] == '\t'); )
				b--;
			if (xff_entry(a, (size_t)(b - a), addr,
			    sizeof(addr)) == -1)
				return found;
			strlcpy(out, addr, outlen);
			found = 1;
			if (!cidr_match(trusted, addr))
				return 1;
			end = start > v ? start - 1 : v;
		}
	}
	return found;
}
