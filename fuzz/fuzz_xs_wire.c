/*
 * fuzz_xs_wire.c - libFuzzer target: arbitrary bytes as a client's stream
 * into pvkit's xenstore core (the wire parser and every message type), then
 * the store's invariants and a live-update round trip.  See
 * xs_core_fuzz_one() for what the first byte selects.
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
	return xs_core_fuzz_one(data, size);
}
