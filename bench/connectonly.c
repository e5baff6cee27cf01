/*
 * ogb-connectonly: what one proxied GET costs in libcurl, two ways, on
 * one kept-alive upstream connection.  A prototype for BENCHMARKS.md,
 * not part of the daemon.
 *
 *   perform   what proxy.c does: one easy handle reused, the URL as a
 *             handle set once (CURLOPT_CURLU), CURLOPT_REQUEST_TARGET,
 *             a header list, header and write callbacks, the progress
 *             callback on; curl_easy_perform() per request
 *   connect   CURLOPT_CONNECT_ONLY: libcurl connects (and would do
 *             TLS); the request head is written by this program with
 *             curl_easy_send(), the response read with curl_easy_recv()
 *             and framed by llhttp in response mode
 *
 * The callbacks only count what a proxy would relay, the same in both
 * modes, so the difference is libcurl's machinery against a
 * send/recv/llhttp loop.  Under callgrind, --toggle-collect=run_loop
 * counts the request loop alone (after one warm-up request that
 * connects); divide by the count.
 *
 * usage: ogb-connectonly [-n count] perform|connect http://host:port path
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <llhttp.h>

struct resp {
	size_t		 head_bytes;
	size_t		 body_bytes;
	int		 status;
	int		 done;
};

static CURL		*curl;
static struct resp	 resp;
static llhttp_t		 parser;
static llhttp_settings_t settings;
static char		 head[1024];
static size_t		 headlen;
static struct curl_slist hdrs[3] = {
	{ (char *)(uintptr_t)"X-Forwarded-For: 127.0.0.1", &hdrs[1] },
	{ (char *)(uintptr_t)"X-Forwarded-Proto: http", &hdrs[2] },
	{ (char *)(uintptr_t)"Accept:", NULL },
};

static size_t
header_cb(char *buf, size_t size, size_t n, void *arg)
{
	resp.head_bytes += size * n;
	return size * n;
}

static size_t
write_cb(char *buf, size_t size, size_t n, void *arg)
{
	resp.body_bytes += size * n;
	return size * n;
}

static int
progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	return 0;
}

static int
perform_one(const char *target)
{
	long status = 0;

	curl_easy_setopt(curl, CURLOPT_REQUEST_TARGET, target);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	if (curl_easy_perform(curl) != CURLE_OK)
		return -1;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	resp.status = (int)status;
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	resp.status = p->status_code;
	return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
	resp.body_bytes += len;
	return 0;
}

static int
on_message_complete(llhttp_t *p)
{
	resp.done = 1;
	return HPE_PAUSED;	/* one response per request */
}

/* Waits for the connection to be readable (or writable). */
static int
wait_sock(int out)
{
	struct pollfd pfd;
	curl_socket_t fd;

	if (curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD)
		return -1;
	pfd.fd = fd;
	pfd.events = out ? POLLOUT : POLLIN;
	return poll(&pfd, 1, 10000) == 1 ? 0 : -1;
}

static int
connect_one(void)
{
	char buf[64 * 1024];
	size_t off = 0, n;
	llhttp_errno_t e;
	CURLcode rc;

	while (off < headlen) {
		rc = curl_easy_send(curl, head + off, headlen - off, &n);
		if (rc == CURLE_AGAIN) {
			if (wait_sock(1) == -1)
				return -1;
			continue;
		}
		if (rc != CURLE_OK)
			return -1;
		off += n;
	}
	while (!resp.done) {
		rc = curl_easy_recv(curl, buf, sizeof(buf), &n);
		if (rc == CURLE_AGAIN) {
			if (wait_sock(0) == -1)
				return -1;
			continue;
		}
		if (rc != CURLE_OK || n == 0)
			return -1;
		resp.head_bytes += n;
		e = llhttp_execute(&parser, buf, n);
		if (e == HPE_PAUSED)
			llhttp_resume(&parser);
		else if (e != HPE_OK)
			return -1;
	}
	return 0;
}

static int
one(int connect, const char *target)
{
	memset(&resp, 0, sizeof(resp));
	if ((connect ? connect_one() : perform_one(target)) == -1 ||
	    resp.status != 200)
		return -1;
	return 0;
}

/* The loop callgrind counts. */
static int __attribute__((noinline))
run_loop(int connect, int count, const char *target)
{
	int i;

	for (i = 0; i < count; i++)
		if (one(connect, target) == -1)
			return -1;
	return 0;
}

int
main(int argc, char *argv[])
{
	char url[512], target[512];
	const char *host;
	int ch, count = 1000, connect;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n':
			count = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		goto usage;
	connect = strcmp(argv[0], "connect") == 0;
	snprintf(url, sizeof(url), "%s", argv[1]);
	snprintf(target, sizeof(target), "%s", argv[2]);
	host = strstr(url, "://") != NULL ? strstr(url, "://") + 3 : url;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	if (connect) {
		curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
		llhttp_settings_init(&settings);
		settings.on_headers_complete = on_headers_complete;
		settings.on_body = on_body;
		settings.on_message_complete = on_message_complete;
		llhttp_init(&parser, HTTP_RESPONSE, &settings);
		headlen = (size_t)snprintf(head, sizeof(head),
		    "GET %s HTTP/1.1\r\nHost: %s\r\n"
		    "X-Forwarded-For: 127.0.0.1\r\n"
		    "X-Forwarded-Proto: http\r\n\r\n", target, host);
		if (curl_easy_perform(curl) != CURLE_OK) {
			fprintf(stderr, "connect failed\n");
			return 1;
		}
	} else {
		CURLU *uh = curl_url();

		curl_url_set(uh, CURLUPART_URL, url, 0);
		curl_easy_setopt(curl, CURLOPT_CURLU, uh);
		curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
		    CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 64L * 1024);
	}
	/* A warm-up request outside the count: the connection is made. */
	if (one(connect, target) == -1 ||
	    run_loop(connect, count, target) == -1) {
		fprintf(stderr, "request failed\n");
		return 1;
	}
	printf("%s: %d requests, last %d, %zu body bytes\n", argv[0], count,
	    resp.status, resp.body_bytes);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	return 0;

usage:
	fprintf(stderr, "usage: ogb-connectonly [-n count] perform|connect "
	    "url path\n");
	return 2;
}
