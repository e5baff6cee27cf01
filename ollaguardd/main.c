/*
 * ollaguardd: API-key authentication in front of an Ollama server.
 *
 * main reads the settings, binds the listen socket, creates or migrates
 * the key database (then closes it: no connection crosses a fork), and
 * hands over to the master, which forks the workers.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keystore.h"
#include "log.h"
#include "master.h"

static int
listen_on(const char *host, int port, int backlog)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { 1, 0 };
	socklen_t len;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else
		fatalx("listen address %s is not an IP address", host);

	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("setsockopt SO_REUSEADDR");
	/* Accepted sockets inherit TCP_NODELAY: set once, not per client. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		fatal("setsockopt TCP_NODELAY");
	/* Workers' accept() wakes every second to check for a stop. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		fatal("setsockopt SO_RCVTIMEO");
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		fatal("cannot listen on %s port %d", host, port);
	if (listen(fd, backlog) == -1)
		fatal("listen on %s port %d", host, port);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct config cfg;
	struct keystore *ks;
	char err[PATH_MAX + 512];
	int64_t active;
	int fd, rc;

	log_init("ollaguardd", 1, LOG_LEVEL_INFO);
	rc = config_load(&cfg, argc, argv, err, sizeof(err));
	if (rc == CONFIG_EXIT)
		return 0;
	if (rc == CONFIG_ERROR) {
		fprintf(stderr, "ollaguardd: %s\n", err);
		return 1;
	}
	log_setlevel(log_level_parse(cfg.log_level));

	if ((ks = keystore_open(cfg.db, 0, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	active = keystore_count_active(ks, time(NULL));
	if (active == -1)
		fatalx("%s: %s", cfg.db, keystore_errmsg(ks));
	keystore_close(ks);

	fd = listen_on(cfg.host, (int)cfg.port, (int)cfg.backlog);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");

	log_info("listening on %s port %lld, forwarding to %s, %lld workers",
	    cfg.host, cfg.port, cfg.target_url, cfg.workers);
	if (cfg.master_key[0] == '\0' && active == 0)
		log_warnx("AUTHENTICATION IS OFF: no master key and no active "
		    "key in %s, so every request passes. Set --master-key or "
		    "add a key with ollaguard-keyctl.", cfg.db);
	else
		log_info("authentication on: %s%lld active key%s in %s",
		    cfg.master_key[0] != '\0' ? "master key and " : "",
		    (long long)active, active == 1 ? "" : "s", cfg.db);
	rc = master_run(fd, &cfg);
	config_clear(&cfg);
	curl_global_cleanup();
	return rc;
}
