/*
 * console.c - pvkit console DOM: attach to a domain's PV console through
 * pvkit-consoled's socket (<state>/console.sock) and relay the terminal,
 * like xl console.  Ctrl-] leaves.  When stdin is not a terminal and ends,
 * the output keeps being shown until the guest has been quiet for a second
 * (at most ten), so `printf 'cmd\n' | pvkit console DOM` shows the answer.
 */
#include "toolstack.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#define ESCAPE_CHAR 0x1d /* Ctrl-] */
#define DRAIN_IDLE_MS 1000
#define DRAIN_MAX_NS (10ull * 1000000000ull)

/* Read the daemon's one-line answer to "attach". */
static int attach_reply(int fd, char *line, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	ssize_t r;

	while (n < len - 1) {
		if (poll(&p, 1, 5000) <= 0)
			return -ETIMEDOUT;
		r = read(fd, line + n, 1);
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		if (line[n] == '\n') {
			line[n] = 0;
			return 0;
		}
		n++;
	}
	return -EPROTO;
}

/* Relay until Ctrl-], the daemon closing, or (stdin at EOF) quiet output. */
static int relay(int sock, bool tty)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
			      {.fd = STDIN_FILENO, .events = POLLIN}};
	uint64_t eof_at = 0;
	char buf[4096];
	bool in_open = true;
	ssize_t n, i;
	int r;

	for (;;) {
		r = poll(p, in_open ? 2 : 1, in_open ? -1 : DRAIN_IDLE_MS);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0 || (!in_open && pvk_now_ns() - eof_at > DRAIN_MAX_NS))
			return 0; /* quiet after stdin ended */
		if (p[0].revents) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0)
				return 0; /* console closed */
			if (pvk_write_all(STDOUT_FILENO, buf, (size_t)n))
				return -EIO;
		}
		if (in_open && p[1].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				in_open = false;
				eof_at = pvk_now_ns();
				shutdown(sock, SHUT_WR);
				if (tty)
					return 0;
				continue;
			}
			for (i = 0; i < n && buf[i] != ESCAPE_CHAR; i++)
				;
			if (i && pvk_write_all(sock, buf, (size_t)i))
				return 0;
			if (i < n)
				return 0; /* Ctrl-] */
		}
	}
}

int cmd_console(struct ts *ts, int argc, char **argv)
{
	struct termios saved, raw;
	struct pvk_platform *plat = NULL;
	char path[320], line[256];
	bool tty = isatty(STDIN_FILENO);
	domid_t domid;
	int sock, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pvkit console DOM\n");
		return 2;
	}
	if (ts_dom0(ts, &plat))
		return 1;
	rc = ts_lookup(plat, argv[1], &domid);
	pvk_platform_close(plat);
	if (rc)
		return 1;
	if (domid == 0) {
		/* Dom0's processes write to their terminals and logs (pvkit
		 * dmesg is not built yet); the console daemon serves DomUs. */
		fprintf(stderr, "pvkit: console: Domain-0 has no PV console "
				"here; its daemons log to %s/*.log\n",
			ts->state);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/console.sock", ts->state);
	sock = pvk_unix_connect(path, SOCK_STREAM);
	if (sock < 0) {
		fprintf(stderr,
			"pvkit: cannot reach the console daemon at %s: %s\n",
			path, strerror(-sock));
		return 1;
	}
	snprintf(line, sizeof(line), "attach %u\n", domid);
	rc = pvk_write_all(sock, line, strlen(line));
	if (!rc)
		rc = attach_reply(sock, line, sizeof(line));
	if (rc) {
		fprintf(stderr, "pvkit: console daemon: %s\n", strerror(-rc));
		close(sock);
		return 1;
	}
	if (strcmp(line, "ok")) {
		fprintf(stderr, "pvkit: console of %s: %s\n", argv[1],
			strncmp(line, "error ", 6) ? line : line + 6);
		close(sock);
		return 1;
	}
	if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* the guest sends bare \n */
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		tty = false;
	}
	rc = relay(sock, tty);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fputc('\n', stderr);
	}
	close(sock);
	return rc ? 1 : 0;
}
