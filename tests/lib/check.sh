#!/usr/bin/env bash
# libpvkit's public face: check.sh LIBPVKIT_SO HEADER...
# - each public header compiles on its own (twice included, as C with the
#   project's warnings and as C++) from a directory holding nothing but the
#   headers, so none may include pvkit's internal ones (src/...);
# - the library exports exactly the functions the headers declare
#   (src/lib/symbols.py), in version node PVKIT_0.
# Run in the build (tests/lib) and on the installed prefix (tests/example).
set -u
lib=$1
shift
syms=$(dirname "$0")/../../src/lib/symbols.py
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d /tmp/pvkit-libcheck-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir "$tmp/pvkit"
cp "$@" "$tmp/pvkit/"
for h in "$@"; do
	b=$(basename "$h")
	printf '#include <pvkit/%s>\n#include <pvkit/%s>\n' "$b" "$b" > "$tmp/t.c"
	if $CC -std=gnu11 -fsyntax-only -Wall -Wextra -Werror -Wstrict-prototypes \
		-Wmissing-prototypes -I"$tmp" "$tmp/t.c"; then
		echo "ok   - $b compiles standalone (C)"
	else
		echo "FAIL - $b does not compile standalone (C)"; fail=1
	fi
	if ! command -v "$CXX" >/dev/null; then
		continue
	fi
	cp "$tmp/t.c" "$tmp/t.cc"
	if $CXX -fsyntax-only -Wall -Wextra -Werror -I"$tmp" "$tmp/t.cc"; then
		echo "ok   - $b compiles standalone (C++)"
	else
		echo "FAIL - $b does not compile standalone (C++)"; fail=1
	fi
done
python3 "$syms" list "$@" > "$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' \
	> "$tmp/exported.v"
sed 's/@.*//' "$tmp/exported.v" | sort -u > "$tmp/exported"
if diff -u "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
	echo "ok   - $(wc -l < "$tmp/exported") symbols exported, each declared in a public header"
else
	echo "FAIL - exports differ from the public headers (- declared only, + exported only):"
	grep '^[-+][^-+]' "$tmp/diff"; fail=1
fi
if grep -qv '@@PVKIT_0$' "$tmp/exported.v"; then
	echo "FAIL - symbols outside version node PVKIT_0:"; grep -v '@@PVKIT_0$' "$tmp/exported.v"; fail=1
fi
exit $fail
