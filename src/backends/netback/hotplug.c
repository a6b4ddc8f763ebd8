/*
 * hotplug.c - a vif's script= (Xen's hotplug script convention, as libxl
 * runs vif-bridge): "<script> online|offline type_if=vif" with XENBUS_TYPE,
 * XENBUS_PATH, XENBUS_BASE_PATH, netdev and vif in its environment, after
 * the TAP exists (online) and before it goes (offline).  A relative name
 * is looked up in /etc/xen/scripts, as libxl does.  The script gets
 * NB_SCRIPT_TIMEOUT_S seconds; one that fails or hangs fails the device.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netback.h"

extern char **environ;

#define NB_SCRIPT_TIMEOUT_S 30

int nb_hotplug_run(struct xenbus_device *dev, const char *script,
		   const char *ifname, const char *action)
{
	char path[256], xpath[160], env[5][200], why[400];
	char *argv[] = {path, (char *)action, "type_if=vif", NULL};
	char *envp[64];
	posix_spawnattr_t attr;
	unsigned int n = 0, i;
	int status, rc, waited_ms = 0;
	pid_t pid;

	if (script[0] == '/')
		rc = snprintf(path, sizeof(path), "%s", script);
	else
		rc =
		    snprintf(path, sizeof(path), "/etc/xen/scripts/%s", script);
	if (rc >= (int)sizeof(path) || strchr(script, '\n'))
		return -ENAMETOOLONG;
	if (access(path, X_OK)) {
		rc = -errno;
		xenbus_device_set_error(dev, "script %s: %s", path,
					strerror(-rc));
		return rc;
	}
	/* xenbus_device_name is "vif/<fe>/<devid>" */
	snprintf(xpath, sizeof(xpath), "backend/%s", xenbus_device_name(dev));
	snprintf(env[0], sizeof(env[0]), "XENBUS_TYPE=vif");
	snprintf(env[1], sizeof(env[1]), "XENBUS_PATH=%s", xpath);
	snprintf(env[2], sizeof(env[2]), "XENBUS_BASE_PATH=backend");
	snprintf(env[3], sizeof(env[3]), "netdev=%s", ifname);
	snprintf(env[4], sizeof(env[4]), "vif=%s", ifname);
	for (i = 0; i < 5; i++)
		envp[n++] = env[i];
	for (i = 0; environ[i] && n < PVK_ARRAY_SIZE(envp) - 1; i++)
		if (strncmp(environ[i], "XENBUS_", 7) &&
		    strncmp(environ[i], "netdev=", 7) &&
		    strncmp(environ[i], "vif=", 4))
			envp[n++] = environ[i];
	envp[n] = NULL;
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawn(&pid, path, NULL, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		xenbus_device_set_error(dev, "script %s: %s", path,
					strerror(rc));
		return -rc;
	}
	while ((rc = waitpid(pid, &status, WNOHANG)) == 0 &&
	       waited_ms < NB_SCRIPT_TIMEOUT_S * 1000) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
		waited_ms += 10;
	}
	if (rc == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(why, sizeof(why), "script %s %s: no answer in %d s",
			 path, action, NB_SCRIPT_TIMEOUT_S);
		rc = -ETIMEDOUT;
	} else if (rc < 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "script %s %s: %s", path, action,
			 strerror(-rc));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, sizeof(why), "script %s %s: %s %d", path, action,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status)
					   : WTERMSIG(status));
		rc = -EIO;
	} else {
		return 0;
	}
	xenbus_device_set_error(dev, "%s", why); /* the framework logs it */
	return rc;
}
