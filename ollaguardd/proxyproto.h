/*
 * proxyproto: what a trusted load balancer says about the client, as
 * pure functions: the PROXY protocol header (v1 text, v2 binary) it
 * sends before the connection's first byte, and the X-Forwarded-For
 * header it adds to each request.
 */
#ifndef PROXYPROTO_H
#define PROXYPROTO_H

#include <netinet/in.h>
#include <stddef.h>

#include "cidr.h"

struct header;

#define PROXYPROTO_V1_MAX	107	/* the spec's longest line */
#define PROXYPROTO_V2_TLV_MAX	4096	/* TLVs beyond this: refused */
#define PROXYPROTO_MAX		(16 + PROXYPROTO_V2_TLV_MAX)

struct proxyproto {
	/* The client's address, printed; empty when the header names
	 * none (v1 UNKNOWN, v2 LOCAL or a non-IP family): the
	 * connection's own peer then stands. */
	char	 addr[INET6_ADDRSTRLEN];
};

/*
 * Parses a PROXY header at the start of buf.  Returns its length once
 * it is whole and valid, 0 if buf is a valid beginning of one that
 * needs more bytes (every byte given then belongs to the header), or
 * -1 if it is not one.
 */
int	proxyproto_parse(const unsigned char *buf, size_t len,
	    struct proxyproto *pp);
/*
 * The client an X-Forwarded-For chain names: walking from the right
 * (the hop nearest us) over the nhdr headers' X-Forwarded-For values,
 * the first address not in trusted, or the last one trusted before an
 * entry that is not an address.  1 with out set, 0 if there is none.
 */
int	proxyproto_xff(const struct header *hdr, int nhdr,
	    const struct cidr_list *trusted, char *out, size_t outlen);

#endif
