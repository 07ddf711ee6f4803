# examples/lib.sh - sourced by the example scenarios: a relay on 127.0.0.1
# (SQLite, in a temporary directory), profiles under it, and helpers that
# echo each command before running it. Not a scenario itself.
#
# Environment: BUILD (default build), KEEP=1 keeps the temporary
# directory, WIDTH (default: the terminal's, at least 150) for the
# side-by-side views.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
BIN=$TOP/$BUILD/backchannel
RELAYD=$TOP/$BUILD/backchanneld
[ -x "$BIN" ] && [ -x "$RELAYD" ] || { echo "build first: make" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/backchannel-example.XXXXXX")
relay_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept: $work" || rm -rf "$work"
}
trap cleanup EXIT
export BACKCHANNEL_HOME=$work/home
unset BACKCHANNEL_PASSPHRASE BACKCHANNEL_PROFILE

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
# as PROFILE ARGS...: show and run a command as that member.
as() {
	local p=$1; shift
	local line="$*"
	[ -n "${TALK:-}" ] && line=${line//"$TALK"/TALK}
	local v
	for v in ${!INV_*}; do line=${line//"${!v}"/\$$v}; done
	printf '\033[2m%s$\033[0m backchannel %s\n' "$p" "$line"
	"$BIN" --profile "$p" "$@" 2>&1 | sed 's/^/      /'
	return "${PIPESTATUS[0]}"
}
# refused PROFILE ARGS...: a command that must fail; shows its error.
refused() {
	if as "$@"; then echo "UNEXPECTED: that should have been refused" >&2; exit 1; fi
	return 0
}
# quiet PROFILE ARGS...: run without showing (ids, syncs).
quiet() { local p=$1; shift; "$BIN" --profile "$p" "$@"; }
syncall() { for p in "$@"; do quiet "$p" sync >/dev/null; done; }

start_relay() {
	"$RELAYD" --init --data-dir "$work/relay" --listen 127.0.0.1:0 >/dev/null 2>&1
	"$RELAYD" --data-dir "$work/relay" --listen 127.0.0.1:0 \
		--port-file "$work/relay/port" 2>"$work/relay.log" &
	relay_pid=$!
	for _ in $(seq 100); do [ -s "$work/relay/port" ] && break; sleep 0.05; done
	[ -s "$work/relay/port" ] || { echo "the relay did not start" >&2; exit 1; }
	ADDR=$("$RELAYD" --address --data-dir "$work/relay" \
		--listen "127.0.0.1:$(cat "$work/relay/port")")
}

# side_by_side TALK P1 P2 ...: each member's timeline in its own column.
side_by_side() {
	local talk=$1; shift
	local cols=$# width=${WIDTH:-$(tput cols 2>/dev/null || echo 150)}
	[ "$width" -lt 150 ] && width=150
	local w=$(( (width - 2 * (cols - 1)) / cols )) files=() p
	for p in "$@"; do
		{
			printf '%s\n' "--- $p sees ---"
			quiet "$p" log "$talk" |
				sed -E 's/^[0-9-]+T([0-9:]+)Z /\1 /; s/ - - / /; s/:[0-9a-f]{8}( |$)/\1/' |
				fold -s -w "$w"
		} >"$work/col.$p"
		files+=("$work/col.$p")
	done
	pr -m -t -w "$width" -S' | ' "${files[@]}" | expand
}
