/* cpu.c - see cpu.h. */
#include "cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

unsigned int bench_cpu_count(void)
{
	cpu_set_t set;
	int n;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned int)n : 1;
}

int bench_cpu_pid(pid_t pid, double *s)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long ut, st;
	long tck = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd, field, rc;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, so count
	 * from the last ')'; state is field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	if (!p || tck <= 0)
		return -EINVAL;
	p++;
	for (field = 3; field < 14; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	errno = 0;
	ut = strtoull(p, &end, 10);
	st = strtoull(end, NULL, 10);
	if (errno)
		return -EINVAL;
	*s = (double)(ut + st) / (double)tck;
	return 0;
}

int bench_cpu_pids(const pid_t *pids, unsigned int n, double *s)
{
	double sum = 0, v;
	unsigned int i;
	int rc;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		rc = bench_cpu_pid(pids[i], &v);
		if (rc)
			return rc;
		sum += v;
	}
	*s = sum;
	return 0;
}

double bench_cpu_self(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
