/* util.h - small helpers shared by every pvkit program. */
#ifndef PVKIT_COMMON_UTIL_H
#define PVKIT_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PVK_PAGE_SHIFT 12
#define PVK_PAGE_SIZE (1UL << PVK_PAGE_SHIFT)
#define PVK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PVK_MAX_FDS 40

/* CLOCK_MONOTONIC in nanoseconds: pvkit's "Xen system time". */
uint64_t pvk_now_ns(void);

/* sendmsg() one datagram with up to PVK_MAX_FDS descriptors attached.
 * Returns 0 or -errno. */
int pvk_send_fds(int sock, const void *buf, size_t len, const int *fds,
		 unsigned int nfds);
/* recvmsg() one datagram; received descriptors are stored in fds[] (close-
 * on-exec) and their number in *nfds.  Returns the byte count, 0 on EOF, or
 * -errno.  A truncated datagram is -EMSGSIZE (its fds are closed). */
ssize_t pvk_recv_fds(int sock, void *buf, size_t len, int *fds,
		     unsigned int *nfds);

/* As pvk_recv_fds; with SO_PASSCRED on sock, *pid (if not NULL) receives
 * the sender's pid as the kernel saw it. */
ssize_t pvk_recv_fds_cred(int sock, void *buf, size_t len, int *fds,
			  unsigned int *nfds, pid_t *pid);

/* A connected AF_UNIX socket of type (SOCK_STREAM/SOCK_SEQPACKET) to path,
 * close-on-exec.  The fd, or -errno. */
int pvk_unix_connect(const char *path, int type);
/* A listening AF_UNIX socket at path (an old socket file is replaced),
 * created with umask(mask) so e.g. 077 leaves it to its owner.  The fd, or
 * -errno. */
int pvk_unix_listen(const char *path, int type, mode_t mask);

/* Write our pid to path atomically (a temporary file renamed into place),
 * so a reader never sees it half-written.  0 or -errno. */
int pvk_write_pidfile(const char *path);
/* Daemons: lift the soft limit on open files to the hard one (a service
 * holds descriptors per domain and port: event inboxes, rings, mappings). */
void pvk_raise_nofile(void);

/* Parse a whole decimal string into [min, max].  0 or -EINVAL/-ERANGE. */
int pvk_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Write/read exactly len bytes, retrying on EINTR.  0 or -errno (-EPIPE on
 * EOF while reading). */
int pvk_write_all(int fd, const void *buf, size_t len);
int pvk_read_all(int fd, void *buf, size_t len);

/* A domain's network namespace (the default kernel puts its vifs there):
 * "pvkit-<name>", the name kept to what a file name may hold (other
 * bytes become '_', at most 60 of them), a bind mount in PVK_NETNS_DIR
 * as iproute2 keeps named namespaces. */
#define PVK_NETNS_DIR "/run/netns"
void pvk_netns_name(const char *domname, char *ns, size_t len);
/* Remove the named namespace ns (unmount, unlink): 0 or -errno (-ENOENT:
 * there was none). */
int pvk_netns_remove(const char *ns);

#endif
