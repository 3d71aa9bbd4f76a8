#!/bin/sh
# A stand-in for runc: records the argv it was given (one per line) and the bundle's
# config.json as it was at exec time, prints nothing, and exits with $FAKE_EXIT (0).
rec="${FAKE_RECORD:?}"
mkdir -p "$rec"
: > "$rec/argv"
for a in "$@"; do printf '%s\n' "$a" >> "$rec/argv"; done
# With FAKE_STDIN=1: what the runtime got on stdin.
[ -n "${FAKE_STDIN:-}" ] && cat > "$rec/stdin"
bundle=.
prev=
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a" ;; esac
  case "$a" in --bundle=*|-b=*) bundle="${a#*=}" ;; esac
  prev="$a"
done
[ -f "$bundle/config.json" ] && cp "$bundle/config.json" "$rec/config.json"
# What runc would read for `exec --process FILE` and `update -r FILE`, read through the
# path as given (Rampart hands over /proc/self/fd/N).
prev=
for a in "$@"; do
  case "$prev" in --process|-p) cat "$a" > "$rec/process.json" ;; -r|--resources) [ "$a" = - ] || cat "$a" > "$rec/resources.json" ;; esac
  case "$a" in --process=*|-p=*) cat "${a#*=}" > "$rec/process.json" ;; --resources=*|-r=*) [ "${a#*=}" = - ] || cat "${a#*=}" > "$rec/resources.json" ;; esac
  prev="$a"
done
exit "${FAKE_EXIT:-0}"
