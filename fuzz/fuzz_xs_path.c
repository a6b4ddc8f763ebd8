/*
 * fuzz_xs_path.c - libFuzzer target: xenstore path handling.  Each
 * nul-separated string is canonicalised (absolute, relative, special) and
 * checked against the path rules, then written, read, listed, watched and
 * removed through the wire.  See xs_core_fuzz_path().
 */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "xenstore/xs_core.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CONTROL log on would print every request: errors only. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pvk_log_init("fuzz", PVK_LOG_ERR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return xs_core_fuzz_path(data, size);
}
