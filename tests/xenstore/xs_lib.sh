# xs_lib.sh - helpers shared by the xenstore test scripts (sourced).
# They set fail=1 on a failed check.

check() { # description, command...
	desc=$1; shift
	if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; fail=1; fi
}

expect() { # description, expected output, command...
	desc=$1; want=$2; shift 2
	got=$("$@" 2>&1)
	if [ "$got" = "$want" ]; then echo "ok   $desc"
	else echo "FAIL $desc: got '$got' want '$want'"; fail=1; fi
}

wait_for() { # file, pattern, count: wait up to 5 s for count matches
	i=0
	while n=$(grep -c -- "$2" "$1" 2>/dev/null); [ "${n:-0}" -lt "$3" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.05
	done
}
