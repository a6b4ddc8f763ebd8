/*
 * xlcfg.h - the xl.cfg(5) domain configuration parser: a pure parser of
 * the file syntax (key = value, '...' / "..." strings, numbers, lists
 * spanning lines, # comments, trailing commas) into entries, typed and
 * validated access to them, and the domain settings pvkit's toolstack
 * uses (name, memory, vcpus, kernel, cmdline, type, on_* actions, disk
 * and vif specifications).
 *
 * Functions taking (err, errlen) return 0 or -errno (-EINVAL for a bad
 * configuration, -ENOMEM, -ENOENT for a missing key, or the file's errno)
 * and on error write one message into err naming the file, the line and
 * the key, e.g. "guest.cfg:7: memory: expected an integer, got 'lots'".
 * err may be NULL.  Everything returned is owned by the xlcfg or domain
 * object it came from unless stated otherwise.
 */
#ifndef PVKIT_TOOLSTACK_XLCFG_H
#define PVKIT_TOOLSTACK_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XLCFG_ERR_MAX 512     /* a comfortable size for err buffers */
#define XLCFG_MAX_FILE (1u << 20)

struct xlcfg;

/* Parse text (len bytes, need not be NUL-terminated); name is used in
 * messages ("guest.cfg").  The caller owns *out (xlcfg_free()). */
/* A domain name: 1-XLCFG_NAME_MAX printable characters, no space, quote,
 * '/' or '\\', and not all digits (it would read as a domid). */
#define XLCFG_NAME_MAX 63
#define XLCFG_NAME_RULES \
	"1-63 printable characters, no spaces, quotes or '/', not a number"
bool xlcfg_name_valid(const char *s);

int xlcfg_parse_string(const char *name, const char *text, size_t len,
		       struct xlcfg **out, char *err, size_t errlen);
/* Read and parse a file; messages use path as given. */
int xlcfg_parse_file(const char *path, struct xlcfg **out, char *err,
		     size_t errlen);
void xlcfg_free(struct xlcfg *cfg);
/* A KEY=VALUE from the command line (xl create's): it replaces the key's
 * setting, or adds it, as a line after the text's last (messages name
 * that line, as xl's do). */
int xlcfg_override(struct xlcfg *cfg, const char *stmt, char *err,
		   size_t errlen);

/* ---- generic access to entries --------------------------------------- */

enum xlcfg_kind { XLCFG_STRING, XLCFG_NUMBER, XLCFG_LIST };

/* Whether key is set; *line (may be NULL) gets its line number. */
bool xlcfg_has(const struct xlcfg *cfg, const char *key, unsigned int *line);
/* A string (or a number, as written). */
int xlcfg_get_string(const struct xlcfg *cfg, const char *key,
		     const char **out, char *err, size_t errlen);
/* A whole number (decimal or 0x hex, also when written as a string) in
 * [min, max]. */
int xlcfg_get_u64(const struct xlcfg *cfg, const char *key, uint64_t min,
		  uint64_t max, uint64_t *out, char *err, size_t errlen);
/* A list: *items gets n item texts, *lines (may be NULL) their lines. */
int xlcfg_get_list(const struct xlcfg *cfg, const char *key,
		   const char *const **items, const unsigned int **lines,
		   unsigned int *n, char *err, size_t errlen);

/* Warnings (unknown keys, ignored settings): "file:line: key: ...". */
unsigned int xlcfg_warning_count(const struct xlcfg *cfg);
const char *xlcfg_warning(const struct xlcfg *cfg, unsigned int i);

/* ---- disk and vif specifications (pure) ------------------------------ */

/* xl-disk-configuration(5): positional target, format, vdev, access, and
 * key=value forms (target= last, taking the rest of the string). */
struct xlcfg_disk {
	char *raw;         /* the whole spec as written */
	char *target;      /* may be "" for an empty cdrom drive */
	char *format;      /* raw, qcow, qcow2, vhd, qed (default raw) */
	char *vdev;        /* xvda, hdc, sdb1, ... (required) */
	bool readonly;     /* access=ro / r (default rw; cdroms are ro) */
	bool cdrom;        /* devtype=cdrom or the cdrom flag */
	char *backend;     /* backend domain, or NULL */
	char *backendtype; /* phy, qdisk, tap, or NULL */
	char *script;      /* or NULL */
	unsigned int line;
};
/* 0 or -EINVAL with the reason (without file/line) in why. */
int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *out, char *why,
		     size_t whylen);
void xlcfg_disk_clear(struct xlcfg_disk *d);

/* xl-network-configuration(5): comma-separated key=value settings and
 * the flags trusted and untrusted.  Every key xl knows is kept as given;
 * which of them pvkit serves is the toolstack's business (vif_check). */
#define XLCFG_VIF_MAX_DEVID 65535 /* vif<65535>.<65535> fits IFNAMSIZ */
#define XLCFG_VIF_RATE_INTERVAL_US 50000 /* xl's default: 50 ms */
struct xlcfg_vif {
	char *raw;
	bool has_mac;
	uint8_t mac[6];
	char *bridge, *ip, *backend, *model, *script, *vifname, *type;
	char *gatewaydev, *accel, *forwarddev, *vlan; /* or NULL */
	char *colo;                 /* the first colo_* key given, or NULL */
	unsigned int mtu;           /* 68-65535; 0 when not given */
	uint64_t rate_bytes_per_s;  /* rate=; 0 when not given */
	uint32_t rate_interval_us;  /* rate=...@INTERVAL, default 50 ms */
	bool has_devid;
	uint32_t devid;             /* devid=, 0-XLCFG_VIF_MAX_DEVID */
	bool untrusted;             /* the untrusted flag (default trusted) */
	unsigned int line;
};
/* 0 or -EINVAL with the reason (without file/line) in why, naming the
 * key: "bad mtu '9' (68-65535)". */
int xlcfg_parse_vif(const char *spec, struct xlcfg_vif *out, char *why,
		    size_t whylen);
/* xl's rate syntax, RATE/s[@INTERVAL]: RATE a whole number with an
 * optional k, K, M or G (10^3, 10^6, 10^9) and B (bytes) or b (bits);
 * INTERVAL a whole number with us, ms or s (no unit: seconds), default
 * 50 ms.  0 or -EINVAL with the reason in why. */
int xlcfg_parse_rate(const char *s, size_t n, uint64_t *bytes_per_s,
		     uint32_t *interval_us, char *why, size_t whylen);
void xlcfg_vif_clear(struct xlcfg_vif *v);

/* ---- the domain ------------------------------------------------------ */

enum xlcfg_type { XLCFG_TYPE_PV, XLCFG_TYPE_PVH, XLCFG_TYPE_HVM };

enum xlcfg_action {
	XLCFG_ACTION_DESTROY,
	XLCFG_ACTION_RESTART,
	XLCFG_ACTION_PRESERVE,
	XLCFG_ACTION_RENAME_RESTART,
	XLCFG_ACTION_COREDUMP_DESTROY,
	XLCFG_ACTION_COREDUMP_RESTART,
	XLCFG_ACTION_SOFT_RESET,
};
/* "destroy", "rename-restart", ...; NULL when out of range. */
const char *xlcfg_action_name(enum xlcfg_action a);
const char *xlcfg_type_name(enum xlcfg_type t);

#define XLCFG_MAX_MEMORY_MIB (16ull << 20) /* 16 TiB */
#define XLCFG_MAX_VCPUS 512

struct xlcfg_domain {
	char *name;                   /* required */
	char uuid[37];                /* "" when not set (one is made) */
	enum xlcfg_type type;         /* default pv */
	uint64_t memory_mib;          /* default 128 */
	uint64_t maxmem_mib;          /* default memory; >= memory */
	unsigned int vcpus;           /* default 1 */
	unsigned int maxvcpus;        /* default vcpus; >= vcpus */
	char *kernel, *ramdisk;       /* or NULL */
	char *cmdline;                /* cmdline, else root= + extra; or NULL */
	enum xlcfg_action on_poweroff; /* default destroy */
	enum xlcfg_action on_reboot;   /* default restart */
	enum xlcfg_action on_crash;    /* default destroy */
	enum xlcfg_action on_watchdog; /* default destroy */
	enum xlcfg_action on_soft_reset; /* default soft-reset */
	struct xlcfg_disk *disks;
	unsigned int ndisks;
	struct xlcfg_vif *vifs;
	unsigned int nvifs;
};

/* Validate every setting pvkit knows and fill a new domain (the caller
 * owns *out: xlcfg_domain_free()).  Keys it does not know become warnings
 * in cfg (xlcfg_warning()).  Stops at the first error. */
int xlcfg_domain_get(struct xlcfg *cfg, struct xlcfg_domain **out, char *err,
		     size_t errlen);
void xlcfg_domain_free(struct xlcfg_domain *d);

#endif
