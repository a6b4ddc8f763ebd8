/*
 * fuzz_xs_wire.c - libFuzzer target: arbitrary bytes as a client's stream
 * into pvkit's xenstore core (the wire parser and every message type), then
 * the store's invariants and a live-update round trip.  See
 * xs_core_fuzz_one() for what the first byte selects.
 */
#include <stddef.h>
#include <stdint.h>

#include "xenstore/xs_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return xs_core_fuzz_one(data, size);
}
