#!/usr/bin/env bash
# The man pages: groff renders them without a warning, and pvkit(1)
# describes every verb `pvkit help` lists (the pages stay true to the
# program).  Args: the pvkit executable, the directory of the pages.
set -u
P=$1
dir=$2
fail=0
check() { if eval "$2"; then echo "ok   - $1"; else echo "FAIL - $1"; fail=1; fi; }
for page in pvkit.1 pvkit.cfg.5; do
	check "$page renders without warnings" 'out=$(groff -man -ww -z -Tutf8 "$dir/$page" 2>&1) && [ -z "$out" ]'
done
verbs=$("$P" help | awk '/^  [a-z]/{print $1}')
check "pvkit help lists verbs" '[ -n "$verbs" ]'
for v in $verbs; do
	pat=$(printf '%s' "$v" | sed 's/-/\\\\-/g') # roff writes - as \-
	check "pvkit(1) describes $v" 'grep -Eq "^\.(B|BI|BR) \"?$pat( |\"|$)" "$dir/pvkit.1"'
done
# Each key pvkit.cfg(5) documents is one the parser knows: a config
# setting it draws no "unknown key" warning.
for k in name uuid type memory maxmem vcpus maxvcpus kernel cmdline root extra on_poweroff on_reboot on_crash on_watchdog on_soft_reset disk vif; do
	check "pvkit.cfg(5) documents $k" 'grep -Eq "^\.(B|BR) $k( |$|\")|^\.BR .*\<$k\>" "$dir/pvkit.cfg.5"'
done
exit $fail
