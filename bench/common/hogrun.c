/* hogrun.c - pvkit-hog: run a command with one busy-looping process per
 * CPU beside it (hog.h), for contended figures of programs that have no
 * --hog of their own (bench/xenstore/run.sh runs Xen's test-xenstore so).
 * Exits with the command's status; the hogs end with it, and with this
 * process however it ends; the command gets SIGTERM if this process dies
 * first. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hog.h"

int main(int argc, char **argv)
{
	struct bench_hog hogs = {.n = 0};
	int i = 1, st = 0, rc;
	pid_t parent = getpid(), p;

	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc || argv[i][0] == '-') {
		fprintf(stderr, "usage: pvkit-hog [--] COMMAND [ARG...]\n");
		return 2;
	}
	rc = bench_hog_start(&hogs);
	if (rc) {
		fprintf(stderr, "pvkit-hog: %s\n", strerror(-rc));
		return 1;
	}
	p = fork();
	if (p < 0) {
		perror("pvkit-hog: fork");
		bench_hog_stop(&hogs);
		return 1;
	}
	if (p == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(126);
		execvp(argv[i], argv + i);
		fprintf(stderr, "pvkit-hog: %s: %s\n", argv[i],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	bench_hog_stop(&hogs);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
