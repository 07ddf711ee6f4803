# talk-setup.bash - sourced by the cli_*.sh tests: a real relay on
# 127.0.0.1, TAP helpers, and (with talk_setup) a talk among qatar (the
# mediator and registrar), us (party "US"), ve (party "VE") and obs (an
# observer), everyone joined and synced. Not a test itself (no .sh).
#
# After talk_setup:  $TALK $ADDR $work, and fp_<name> (8 hex digits).
# Helpers: ok STATUS NAME; bc PROFILE ARGS...; bail MSG; syncall.
set -u
BIN=${BC_TOP:-.}/${BUILD:-build}/backchannel
RELAYD=${BC_TOP:-.}/${BUILD:-build}/backchanneld
work=$(mktemp -d "${TMPDIR:-/tmp}/bc-cli.XXXXXX")
relay_pid=
extra_pids=
cleanup() {
	for p in $relay_pid $extra_pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
export BACKCHANNEL_HOME=$work/home
unset BACKCHANNEL_PASSPHRASE BACKCHANNEL_PROFILE
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
bc() { local p=$1; shift; timeout 30 "$BIN" --profile "$p" "$@"; }
bail() { echo "Bail out! $*"; echo "1..$n"; exit 1; }
fp() { bc "$1" identity --json | sed -n 's/.*"fingerprint":"\([^"]*\)".*/\1/p' | tr -d ' :-' | cut -c1-8; }
syncall() { for p in "$@"; do bc "$p" sync >/dev/null 2>&1 || return 1; done; }

# start_relay [DIR]: a relay; sets ADDR (and relay_pid for the first one).
start_relay() {
	local d=${1:-$work/relay} pid
	"$RELAYD" --init --data-dir "$d" --listen 127.0.0.1:0 >/dev/null 2>&1 || bail "relay --init"
	"$RELAYD" --data-dir "$d" --listen 127.0.0.1:0 --port-file "$d/port" 2>"$d.log" &
	pid=$!
	if [ -z "$relay_pid" ]; then relay_pid=$pid; else extra_pids="$extra_pids $pid"; fi
	for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	[ -s "$d/port" ] || bail "the relay did not start"
	ADDR=$("$RELAYD" --address --data-dir "$d" --listen "127.0.0.1:$(cat "$d/port")")
}

# talk_setup [TITLE]: the four members in one talk on one relay.
talk_setup() {
	local title=${1:-Test talks} p inv
	start_relay
	for p in qatar us ve obs; do bc $p init --unprotected >/dev/null 2>&1 || bail "init $p"; done
	fp_qatar=$(fp qatar) fp_us=$(fp us) fp_ve=$(fp ve) fp_obs=$(fp obs)
	TALK=$(bc qatar talk new --relay "$ADDR" --title "$title" --rules "No recording." 2>/dev/null) ||
		bail "talk new"
	inv=$(bc qatar invite "$TALK" --role party --side US) && bc us join --accept-rules "$inv" >/dev/null || bail "us joins"
	inv=$(bc qatar invite "$TALK" --role party --side VE) && bc ve join --accept-rules "$inv" >/dev/null || bail "ve joins"
	inv=$(bc qatar invite "$TALK" --role observer) && bc obs join --accept-rules "$inv" >/dev/null || bail "obs joins"
	syncall qatar us ve obs || bail "sync"
	bc us talk show "$TALK" --json | grep -q '"joined":true' || bail "us not joined"
}
