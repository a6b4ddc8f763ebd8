/*
 * fuzz_xs_path.c - libFuzzer target: xenstore path handling.  Each
 * nul-separated string is canonicalised (absolute, relative, special) and
 * checked against the path rules, then written, read, listed, watched and
 * removed through the wire.  See xs_core_fuzz_path().
 */
#include <stddef.h>
#include <stdint.h>

#include "xenstore/xs_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return xs_core_fuzz_path(data, size);
}
