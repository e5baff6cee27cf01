/*
 * fuzz_request: a client's bytes through the daemon's request path.
 *
 * The first byte of an input is a control byte; the rest is what a
 * client sends.  The control byte picks where the bytes are split in two
 * (bits 0-5), whether they are also fed one at a time (bit 6), the size
 * of the pieces the body is decoded in (bits 3-5), and whether the key
 * database is down (bits 6 and 7 both set).
 *
 * First the parser alone (request.h): the head is parsed whole, split
 * in two and byte by byte, and the three must agree; an accepted head
 * must keep every promise request.c makes (reqcheck.c: origin-form
 * target, CRLF line ends only, no control bytes, Host, Authorization,
 * Content-Length and Transfer-Encoding at most once, no Upgrade, the
 * keep-alive the Connection list asks for).  The body is decoded into
 * a buffer exactly as large as the raw bytes fed, in pieces and whole,
 * and pipelined requests follow after a reset.
 *
 * Then the worker's own path: the bytes arrive over a socketpair and go
 * through client_read_head, serve_request (or serve_bad_request) and
 * client_next, as worker.c calls them: the real dispatch, auth_check
 * (a master key and a key database are configured), admin_generate and
 * proxy_forward, whose upstream refuses every connection.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "dbconn.h"
#include "keygen.h"
#include "keystore.h"
#include "log.h"
#include "proxy.h"
#include "reply.h"
#include "request.h"
#include "scoreboard.h"
#include "serve.h"

#include "fuzz.h"
#include "reqcheck.h"

#define MASTER_KEY	"fuzz-master-key"
#define USER_KEY	"sk-fuzz-user-key"
#define REVOKED_KEY	"sk-fuzz-revoked-key"
#define EXPIRED_KEY	"sk-fuzz-expired-key"

/* Pipelined requests looked at per input. */
#define PIPELINE_MAX	8
/* More than this is not written to the socketpair (the client buffer
 * is 64 KiB, and the write must not block). */
#define SOCKET_MAX	(48 * 1024)

static const size_t	 pieces[8] = { 1, 2, 3, 7, 16, 100, 4096, 16384 };

static struct config	 cfg;
static struct client	 cl;
static struct sb_slot	 fslot;
static struct request	 rq[3];
static char		 dbdir[PATH_MAX];
static char		 dbpath[PATH_MAX];
static int		 db_down;

static void
cleanup(void)
{
	dbconn_close();
	if (dbdir[0] != '\0')
		fuzz_rmtree(dbdir);
}

static int64_t
add_key(struct keystore *ks, const char *key, int64_t created,
    int64_t expires)
{
	struct keyinfo	 ki;
	int64_t		 id;

	memset(&ki, 0, sizeof(ki));
	keygen_hash(key, strlen(key), ki.hash);
	keygen_hint(key, 3, ki.hint, sizeof(ki.hint));
	ki.created_at = created;
	ki.expires_at = expires;
	ki.origin = ORIGIN_KEYCTL;
	if (keystore_add(ks, &ki, &id) != 0) {
		fprintf(stderr, "fuzz_request: add key: %s\n",
		    keystore_errmsg(ks));
		exit(1);
	}
	return id;
}

/* A key database in a temporary directory, made once per process. */
static void
make_db(void)
{
	struct keystore	*ks;
	char		 err[PATH_MAX + 256];

	fuzz_tmpdir(dbdir, sizeof(dbdir));
	strlcpy(dbpath, dbdir, sizeof(dbpath));
	strlcat(dbpath, "/keys.db", sizeof(dbpath));
	atexit(cleanup);
	if ((ks = keystore_open(dbpath, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_request: %s\n", err);
		exit(1);
	}
	add_key(ks, USER_KEY, 0, 0);
	keystore_revoke(ks, add_key(ks, REVOKED_KEY, 0, 0), 1);
	add_key(ks, EXPIRED_KEY, 1, 2);
	keystore_close(ks);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz_request", 1, LOG_LEVEL_ERROR);
	make_db();
	strlcpy(cfg.master_key, MASTER_KEY, sizeof(cfg.master_key));
	strlcpy(cfg.prefix, "sk-", sizeof(cfg.prefix));
	strlcpy(cfg.db, dbpath, sizeof(cfg.db));
	/* Nothing listens on port 1: a request that passes is answered
	 * with the 502 of a refused upstream connection, at once. */
	strlcpy(cfg.target_url, "http://127.0.0.1:1", sizeof(cfg.target_url));
	strlcpy(cfg.access_log, "off", sizeof(cfg.access_log));
	dbconn_open(cfg.db);
	auth_init(&cfg);
	admin_init(&cfg);
	serve_init(&cfg, &fslot, 0);
	client_init(&cl);
	if (proxy_init(&cfg) == -1)
		exit(1);
	return 0;
}

/* Brings the key database up or takes it away, as dbconn sees it. */
static void
set_db(int down)
{
	if (down == db_down)
		return;
	dbconn_close();
	dbconn_open(down ? "/nonexistent/ollaguard-fuzz.db" : dbpath);
	db_down = down;
}

/* Parses buf[0, len), which arrives in reads that end at the offsets
 * in cuts (ascending, the last one len). */
static int
parse_head(struct request *r, char *buf, size_t len, const size_t *cuts,
    int ncuts, size_t *pos)
{
	int	 i, rc = 0;

	request_init(r);
	*pos = 0;
	for (i = 0; i < ncuts && rc == 0; i++) {
		if (cuts[i] <= *pos)
			continue;
		rc = request_parse_head(r, buf, cuts[i], pos);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 0)
			FUZZ_CHECK(*pos == cuts[i]);
	}
	if (rc == 1)
		reqcheck_head(r, buf, *pos);
	else if (rc == -1)
		reqcheck_refused(r);
	return rc;
}

/* Byte by byte: one read per byte. */
static int
parse_head_bytewise(struct request *r, char *buf, size_t len, size_t *pos)
{
	size_t	 n;
	int	 rc = 0;

	request_init(r);
	*pos = 0;
	for (n = 1; n <= len && rc == 0; n++) {
		rc = request_parse_head(r, buf, n, pos);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 0)
			FUZZ_CHECK(*pos == n);
	}
	if (rc == 1)
		reqcheck_head(r, buf, *pos);
	else if (rc == -1)
		reqcheck_refused(r);
	return rc;
}

struct body {
	ssize_t		 used;		/* raw bytes taken; -1 if refused */
	size_t		 outlen;
	char		*out;		/* the decoded body */
};

/*
 * Decodes the body in in[0, inlen) in pieces of at most piece raw bytes
 * into a buffer of exactly piece bytes, as client_read_body does: it
 * relies on the decoded bytes never outnumbering the raw ones.
 */
static void
decode_body(struct request *r, const char *in, size_t inlen, size_t piece,
    struct body *b)
{
	char	*dst;
	size_t	 off = 0, n, out;
	ssize_t	 u;

	b->used = 0;
	b->outlen = 0;
	b->out = malloc(inlen > 0 ? inlen : 1);
	dst = malloc(piece);
	FUZZ_CHECK(b->out != NULL && dst != NULL);
	while (!r->body_done && off < inlen) {
		n = inlen - off < piece ? inlen - off : piece;
		out = 0;
		u = request_parse_body(r, in + off, n, dst, &out);
		if (u == -1) {
			FUZZ_CHECK(r->status == 400 && r->error != NULL);
			b->used = -1;
			break;
		}
		FUZZ_CHECK((size_t)u <= n && out <= (size_t)u);
		/* Bytes are left over only when the body has ended. */
		FUZZ_CHECK((size_t)u == n || r->body_done);
		memcpy(b->out + b->outlen, dst, out);
		b->outlen += out;
		off += (size_t)u;
	}
	free(dst);
	if (b->used == -1)
		return;
	b->used = (ssize_t)off;
	if (!r->chunked) {
		FUZZ_CHECK(b->outlen <= r->content_length);
		FUZZ_CHECK(r->body_done == (b->outlen == r->content_length));
		FUZZ_CHECK(b->outlen == (size_t)b->used);
	}
}

/* After whatever came before, a reset request parses a plain GET as
 * if new: nothing is left over from the last one. */
static void
check_reset(struct request *r)
{
	char	 get[] = "GET /after?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t	 pos = 0;
	int	 i;

	request_reset(r);
	FUZZ_CHECK(request_parse_head(r, get, sizeof(get) - 1, &pos) == 1);
	reqcheck_head(r, get, pos);
	FUZZ_CHECK(pos == sizeof(get) - 1);
	FUZZ_CHECK(r->method_id == HTTP_GET && r->nhdr == 1);
	FUZZ_CHECK(r->target_len == 10 &&
	    memcmp(r->target, "/after?x=1", 10) == 0);
	for (i = 0; i < RH_COUNT; i++)
		FUZZ_CHECK(r->idx[i] == (i == RH_HOST ? 0 : -1));
	FUZZ_CHECK(r->keepalive && !r->has_body && r->body_done);
}

/*
 * The parser alone: the first request three ways, then its body in
 * pieces and whole, then the pipelined requests behind it.
 */
static void
parser_path(const uint8_t *data, size_t len, unsigned ctl)
{
	struct body	 b1, b2;
	char		*buf, *buf2, *next;
	size_t		 cuts[2], pos, pos1, pos2, piece, off;
	int		 rc, rc1, rc2, n;

	if (len == 0)
		return;
	piece = pieces[(ctl >> 3) & 7];
	buf = malloc(len);
	buf2 = malloc(len);
	FUZZ_CHECK(buf != NULL && buf2 != NULL);
	memcpy(buf, data, len);
	memcpy(buf2, data, len);

	cuts[0] = len;
	rc = parse_head(&rq[0], buf, len, cuts, 1, &pos);
	cuts[0] = 1 + (len - 1) * (ctl & 0x3f) / 0x3f;
	cuts[1] = len;
	rc1 = parse_head(&rq[1], buf2, len, cuts, 2, &pos1);
	FUZZ_CHECK(rc == rc1);
	if (rc == 1) {
		FUZZ_CHECK(pos == pos1);
		reqcheck_same(&rq[0], &rq[1]);
	}
	if ((ctl & 0x40) != 0) {
		rc2 = parse_head_bytewise(&rq[2], buf2, len, &pos2);
		FUZZ_CHECK(rc == rc2);
		if (rc == 1) {
			FUZZ_CHECK(pos == pos2);
			reqcheck_same(&rq[0], &rq[2]);
		}
	}

	/* The body, in the control byte's pieces and in one go; and then
	 * the pipelined requests behind it, parsed after a reset. */
	for (n = 0; rc == 1 && n < PIPELINE_MAX; n++) {
		off = pos;
		if (n == 0) {
			decode_body(&rq[1], buf2 + off, len - off, piece, &b1);
			decode_body(&rq[0], buf + off, len - off,
			    len - off > 0 ? len - off : 1, &b2);
			FUZZ_CHECK((b1.used == -1) == (b2.used == -1));
			if (b1.used != -1) {
				FUZZ_CHECK(b1.used == b2.used);
				FUZZ_CHECK(rq[0].body_done == rq[1].body_done);
				FUZZ_CHECK(b1.outlen == b2.outlen &&
				    memcmp(b1.out, b2.out, b1.outlen) == 0);
			}
			free(b1.out);
		} else
			decode_body(&rq[0], buf + off, len - off, piece, &b2);
		free(b2.out);
		if (b2.used == -1 || !rq[0].body_done ||
		    off + (size_t)b2.used == len)
			break;
		/* client_next: what is left moves to the front, here into a
		 * buffer of its exact size so a read past it is caught. */
		off += (size_t)b2.used;
		len -= off;
		FUZZ_CHECK((next = malloc(len)) != NULL);
		memcpy(next, buf + off, len);
		free(buf);
		buf = next;
		request_reset(&rq[0]);
		pos = 0;
		rc = request_parse_head(&rq[0], buf, len, &pos);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 1)
			reqcheck_head(&rq[0], buf, pos);
		else if (rc == -1)
			reqcheck_refused(&rq[0]);
	}
	check_reset(&rq[0]);
	free(buf);
	free(buf2);
}

/* The Authorization value, checked with what auth_check must answer
 * for the keys in the database. */
static enum auth_result
check_auth(const struct request *r, struct auth_who *who)
{
	enum auth_result	 a;
	const char		*hdr;
	size_t			 len;

	hdr = request_header(r, RH_AUTHORIZATION, &len);
	a = auth_check(hdr, len, who);
	FUZZ_CHECK(a == AUTH_PASS || a == AUTH_MISSING || a == AUTH_INVALID ||
	    a == AUTH_UNAVAILABLE);
	FUZZ_CHECK(!who->open);
	if (a == AUTH_PASS)
		FUZZ_CHECK(who->master != (who->key_id != 0));
	if (hdr != NULL && len == 7 + strlen(MASTER_KEY) &&
	    memcmp(hdr, "Bearer " MASTER_KEY, len) == 0)
		FUZZ_CHECK(a == AUTH_PASS && who->master);
	/* With the database down only the master key passes; no other
	 * key is ever called invalid, since nobody can tell. */
	if (db_down) {
		FUZZ_CHECK(a != AUTH_INVALID);
		FUZZ_CHECK(a != AUTH_PASS || who->master);
		return a;
	}
	FUZZ_CHECK(a != AUTH_UNAVAILABLE);
	if (hdr == NULL)
		FUZZ_CHECK(a == AUTH_MISSING);
	if (hdr != NULL && len == 7 + strlen(USER_KEY) &&
	    memcmp(hdr, "Bearer " USER_KEY, len) == 0)
		FUZZ_CHECK(a == AUTH_PASS && !who->master &&
		    who->key_id != 0);
	if (hdr != NULL && len == 7 + strlen(REVOKED_KEY) &&
	    memcmp(hdr, "Bearer " REVOKED_KEY, len) == 0)
		FUZZ_CHECK(a == AUTH_INVALID);
	if (hdr != NULL && len == 7 + strlen(EXPIRED_KEY) &&
	    memcmp(hdr, "Bearer " EXPIRED_KEY, len) == 0)
		FUZZ_CHECK(a == AUTH_INVALID);
	return a;
}

/* One request through serve.c, as worker.c hands it over; the upstream
 * refuses connections, so what passes auth gets a 502.  Returns 1 to
 * keep the connection. */
static int
serve_one(struct client *c)
{
	struct request		*r = &c->req;
	struct auth_who		 who;
	enum auth_result	 a;
	int			 keep;

	memset(&who, 0, sizeof(who));
	a = check_auth(r, &who);
	if (admin_match(c))
		FUZZ_CHECK(r->target_len >= 13 &&
		    memcmp(r->target, "/key/generate", 13) == 0);
	(void)a;
	keep = serve_request(c);
	FUZZ_CHECK(keep == 0 || keep == 1);
	/* A connection carries on only past a request read to its end. */
	if (keep)
		FUZZ_CHECK(r->body_done && r->keepalive);
	return keep;
}

/*
 * The worker's path: the bytes come over a socketpair whose other end
 * has sent them all and shut down, so no read ever waits.
 */
static void
worker_path(const uint8_t *data, size_t len, unsigned ctl)
{
	struct sockaddr_in	 sin;
	char			 resp[4096];
	ssize_t			 n;
	size_t			 off;
	int			 sv[2], rc, i, bufsz = 256 * 1024;

	if (len > SOCKET_MAX)
		len = SOCKET_MAX;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	for (off = 0; off < len; off += (size_t)n)
		if ((n = send(sv[1], data + off, len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL)) <= 0)
			break;
	shutdown(sv[1], SHUT_WR);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	request_init(&cl.req);
	cl.keepalive_ms = cl.header_ms = cl.body_ms = 1000;
	client_start(&cl, sv[0], (struct sockaddr *)&sin);
	FUZZ_CHECK(strcmp(cl.addr, "127.0.0.1") == 0);
	for (i = 0; i < PIPELINE_MAX; i++) {
		rc = client_read_head(&cl);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == -1) {
			reqcheck_refused(&cl.req);
			serve_bad_request(&cl);
		}
		if (rc != 1)
			break;
		FUZZ_CHECK(cl.pos == cl.head_len && cl.pos <= cl.end);
		reqcheck_head(&cl.req, cl.buf, cl.head_len);
		if (!serve_one(&cl))
			break;
		client_next(&cl);
		FUZZ_CHECK(cl.pos == 0 && cl.head_len == 0);
	}
	auth_flush(0);
	client_close(&cl);

	/* What the client got back starts as a response does. */
	n = recv(sv[1], resp, sizeof(resp), MSG_DONTWAIT);
	if (n > 0)
		FUZZ_CHECK(n >= 13 && memcmp(resp, "HTTP/1.1 ", 9) == 0);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	 ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	set_db((ctl & 0xc0) == 0xc0);
	parser_path(data + 1, size - 1, ctl);
	worker_path(data + 1, size - 1, ctl);
	return 0;
}
