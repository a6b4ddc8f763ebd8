/* block_env.c - see block_env.h. */
#include "block_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int blk_env_start(struct blk_env *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = pv_env_start(&e->pv);
	if (rc)
		return rc;
	snprintf(e->shm, sizeof(e->shm), "/dev/shm/pvkit-blk-XXXXXX");
	if (!mkdtemp(e->shm)) {
		e->shm[0] = '\0';
		return -errno;
	}
	return 0;
}

void blk_env_backend_stop(struct blk_env *e) { pv_env_daemon_stop(&e->bk); }

int blk_env_backend(struct blk_env *e, const char *const *args)
{
	blk_env_backend_stop(e);
	return pv_env_daemon(&e->pv, "PVKIT_BLKBACK", "pvkit-blkback", args,
			     &e->bk);
}

void blk_env_stop(struct blk_env *e)
{
	char cmd[128];

	blk_env_backend_stop(e);
	pv_env_stop(&e->pv);
	if (!e->shm[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->shm);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", e->shm);
}

int blk_env_disk(struct blk_env *e, const char *name, uint64_t size, char *path,
		 size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", e->shm, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (ftruncate(fileno(f), (off_t)size) < 0) {
		fclose(f);
		return -errno;
	}
	fclose(f);
	return 0;
}

struct vbd {
	const char *disk, *mode;
};

static int write_vbd(struct pv_env *e, domid_t d, void *arg)
{
	const struct vbd *v = arg;
	char vdev[16];
	const char *fe[] = {"virtual-device", vdev, "device-type", "disk",
			    NULL};
	const char *be[] = {"params", v->disk, "type", "file", "device-type",
			    "disk", "mode", v->mode, NULL};

	if (!v->disk)
		return 0;
	snprintf(vdev, sizeof(vdev), "%u", BLK_DEVID);
	return pv_env_device(e, d, "vbd", BLK_DEVID, fe, be);
}

int blk_env_guest(struct blk_env *e, const char *disk, const char *mode,
		  blk_guest_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid)
{
	struct vbd v = {disk, mode};

	return pv_env_guest(&e->pv, write_vbd, &v, fn, arg, arg_size, domid,
			    pid);
}

int blk_env_kernel(struct blk_env *e, const char *disk, const char *mode,
		   blk_kernel_fn fn, const void *arg, size_t arg_size,
		   domid_t *domid, pid_t *pid)
{
	struct vbd v = {disk, mode};

	return pv_env_kernel(&e->pv, write_vbd, &v, fn, arg, arg_size, domid,
			     pid);
}

int blk_env_guest_end(struct blk_env *e, domid_t domid, pid_t pid)
{
	return pv_env_guest_end(&e->pv, "vbd", domid, pid);
}
