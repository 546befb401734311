#!/usr/bin/env bash
# Usage: tests/scripts/contention.sh sqlite|postgres|mysql LABEL [stress writer options]
# e.g. `--retries 3 --backoff-ms 0` for the first release's retry policy. Build the stress binary
# first: cargo build -p evtstore-tests --bin stress. Prints how many contended commands still
# failed with a version conflict after the retries.
# Contended commands: 4 writer processes x 8 tasks x 50 commands on 3 shared aggregates.
set -u
BIN=${CARGO_TARGET_DIR:-target}/debug/stress
backend=$1; shift; label=$1; shift
n=$(date +%s%N)
case $backend in
  sqlite) url="sqlite://${TMPDIR:-/tmp}/evtstore_contention_$n.db?mode=rwc";;
  postgres) psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA evt_c_$n" >/dev/null; url="postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3Devt_c_$n";;
  mysql) mariadb -h127.0.0.1 -uroot -e "CREATE DATABASE evt_c_$n"; url="mysql://root@127.0.0.1:3306/evt_c_$n";;
esac
$BIN migrate "$url" >/dev/null || exit 1
for w in 0 1 2 3; do $BIN writer "$url" --index $w --tasks 8 --events 0 --contended 50 "$@" > "${TMPDIR:-/tmp}/evtstore_contention_out_$w.txt" 2>&1 & done
wait
att=0; fail=0
for w in 0 1 2 3; do
  a=$(grep -o 'contended_attempted=[0-9]*' "${TMPDIR:-/tmp}/evtstore_contention_out_$w.txt" | cut -d= -f2); f=$(grep -o 'contended_failed=[0-9]*' "${TMPDIR:-/tmp}/evtstore_contention_out_$w.txt" | cut -d= -f2)
  att=$((att+${a:-0})); fail=$((fail+${f:-0}))
done
echo "$backend $label: $fail of $att failed ($(python3 -c "print(round(100*$fail/max($att,1),1))")%)"
case $backend in
  postgres) psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA evt_c_$n CASCADE" >/dev/null;;
  mysql) mariadb -h127.0.0.1 -uroot -e "DROP DATABASE evt_c_$n";;
esac
