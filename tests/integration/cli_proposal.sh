#!/usr/bin/env bash
# cli_proposal.sh - proposals and signed agreements through the real CLI
# and a real relay: propose, counter, reject with a reason, counter, accept
# by both parties, automatic signatures, every member's view, the export
# from both parties, offline verification (and forgeries refused), and
# the refusals: withdrawn, expired, superseded, twice, someone else's
# withdrawal, observer, mediator accepting, unknown id, suspended talk.
# Speaks TAP.
set -u
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"
talk_setup "Detainees and flights"

# json_status PROFILE PROPOSAL_HEX: the proposal's status in proposals --json
json_status() {
	bc "$1" proposals "$TALK" --json |
		sed -n "s/.*{\"id\":\"$2\",\"short\":\"[^\"]*\",\"kind\":\"[^\"]*\",\"status\":\"\([a-z]*\)\".*/\1/p"
}
# refused CMD...: exit non-zero; stderr in $work/err
refused() { "$@" >"$work/out" 2>"$work/err" && return 1; return 0; }
# one PROFILE PROPOSAL_HEX: that proposal's JSON object, alone on a line
one() { bc "$1" proposals "$TALK" --json | sed 's/,{"id":/\n{"id":/g' | grep "^\[*{\"id\":\"$2\""; }
# quiet_sync PROFILE: sync printed no new event (nothing was sent to it)
quiet_sync() { local o; o=$(bc "$1" sync 2>&1) && [ -z "$o" ]; }

# --- the main path -------------------------------------------------------------
P=$(bc us propose "$TALK" --expires 7d --term "prisoners=release 10" \
	--term "flights=2 per week" 2>"$work/err")
ok $? "US proposes (prints the id)"
echo "$P" | grep -qE '^[0-9a-f]{32}$'
ok $? "the proposal id is 32 hex digits"
S=P${P:0:8}
syncall qatar ve obs || bail "sync"
[ "$(json_status ve "$P")" = open ]
ok $? "VE sees the proposal, open"
bc ve proposals "$TALK" | grep -q "flights: 2 per week"
ok $? "VE's proposal tree shows the terms"

bc ve counter "$TALK" "${P:0:6}" --term "prisoners=release 10" \
	--term "flights=4 per week" >"$work/out" 2>"$work/err"
ok $? "VE counters (v2, by a 6-digit prefix)"
grep -q "countered $S with v2" "$work/out"
ok $? "counter prints its timeline line"
syncall us qatar obs || bail "sync"
bc us reject "$TALK" "$S" --reason "not acceptable" >"$work/out" 2>"$work/err"
ok $? "US rejects v2 with a reason (P-form id)"
syncall ve qatar obs || bail "sync"
bc ve proposals "$TALK" --json | grep -q '"rejected":true,"rejected_by":"[0-9a-f]*","rejected_by_role":"party","rejected_by_side":"US","reason":"not acceptable"'
ok $? "VE sees the rejection and its reason"
refused bc ve accept "$TALK" "$S"
grep -q "the version was rejected" "$work/err"
ok $? "a rejected version cannot be accepted"

bc ve counter "$TALK" "$S" --term "prisoners=release 10" \
	--term "flights=3 per week" >/dev/null 2>"$work/err"
ok $? "VE counters again (v3)"
syncall us qatar obs || bail "sync"
refused bc us accept "$TALK" "$S" --version 2
grep -q "superseded by a counter" "$work/err"
ok $? "accepting a version that is not the latest is refused"
bc us accept "$TALK" "$S" >"$work/out" 2>"$work/err"
grep -q "accepted $S v3" "$work/out"
ok $? "US accepts v3"
refused bc us accept "$TALK" "$S"
grep -q "already accepted this version" "$work/err"
ok $? "a party cannot accept twice"
syncall ve || bail "sync"
[ "$(json_status ve "$P")" = open ]
ok $? "one acceptance of two: still open"
bc ve accept "$TALK" "$S" >"$work/out" 2>"$work/err"
ok $? "VE accepts v3"
grep -q "$S v3 agreed" "$work/out" && grep -q "agreement $S v3 signed by VE" "$work/out"
ok $? "VE's acceptance completes the agreement and VE signs at once"
bc ve agreement export "$TALK" "$S" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "missing US" "$work/err"
ok $? "export is refused while US has not signed, naming US"

bc us sync >"$work/out" 2>&1
grep -q "agreement $S v3 signed by US" "$work/out" &&
	grep -q "complete: signed by every party" "$work/out"
ok $? "US signs when it syncs; it sees the agreement complete"
syncall ve qatar obs || bail "sync"
for p in us ve qatar obs; do
	[ "$(json_status $p "$P")" = signed ]
	ok $? "$p's proposals --json shows signed"
done
bc qatar proposals "$TALK" --json | grep -q '"complete":true,"own_signature_pending":false'
ok $? "the mediator's view has every signature"
bc qatar log "$TALK" >"$work/log"
grep -q "proposed $S v1 (expires [0-9T:Z-]*): prisoners: release 10; flights: 2 per week" "$work/log" &&
	grep -q "rejected $S v2: not acceptable" "$work/log" &&
	grep -q "accepted $S v3" "$work/log" &&
	grep -q "agreement $S v3 signed by US" "$work/log" &&
	grep -q "agreement $S v3 complete: signed by every party" "$work/log"
ok $? "the mediator's log shows the negotiation"

# --- the export and offline verification ------------------------------------
bc us agreement export "$TALK" "$S" -o "$work/us.txt" 2>"$work/err"
ok $? "US exports the agreement to a file"
bc ve agreement export "$TALK" "$S" >"$work/ve.txt" 2>"$work/err"
ok $? "VE exports the agreement to stdout"
cmp -s "$work/us.txt" "$work/ve.txt"
ok $? "both exports are byte-identical"
mkdir -p "$work/empty"
BACKCHANNEL_HOME=$work/empty "$BIN" agreement verify "$work/us.txt" >"$work/out" 2>&1
[ $? -eq 0 ] && [ -z "$(ls -A "$work/empty")" ]
ok $? "agreement verify passes with no profile at all"
grep -q '^VALID agreement "Detainees and flights", version 3' "$work/out" &&
	grep -qE '^  US  [0-9a-f ]+$' "$work/out" && grep -qE '^  VE  [0-9a-f ]+$' "$work/out" &&
	grep -q "2. flights: 3 per week" "$work/out"
ok $? "verify prints the parties and the terms"
sed 's/     3 per week/     4 per week/' "$work/us.txt" >"$work/tampered.txt"
! cmp -s "$work/us.txt" "$work/tampered.txt" || echo "# warning: tamper did not change the file"
BACKCHANNEL_HOME=$work/empty "$BIN" agreement verify "$work/tampered.txt" >/dev/null 2>"$work/err"
[ $? -eq 3 ] && grep -q "NOT a valid agreement" "$work/err"
ok $? "an export with one byte of the terms changed is refused"
head -c $(($(wc -c <"$work/us.txt") - 30)) "$work/us.txt" >"$work/trunc.txt"
BACKCHANNEL_HOME=$work/empty "$BIN" agreement verify "$work/trunc.txt" >/dev/null 2>&1
[ $? -eq 3 ]
ok $? "a truncated export is refused"

# --- withdrawn: refused, nothing sent ---------------------------------------------
W=$(bc us propose "$TALK" --term "energy=licences for two firms" 2>"$work/err") || bail "propose W"
syncall ve qatar obs || bail "sync"
bc ve withdraw "$TALK" "${W:0:8}" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "only the author of the latest version may withdraw" "$work/err"
ok $? "withdrawing someone else's proposal is refused"
bc us withdraw "$TALK" "${W:0:8}" >"$work/out" 2>"$work/err"
ok $? "US withdraws its proposal"
syncall ve qatar obs || bail "sync"
[ "$(json_status ve "$W")" = withdrawn ]
ok $? "VE sees it withdrawn"
refused bc ve accept "$TALK" "${W:0:8}"
grep -q "cannot accept ${W:0:8}: the proposal was withdrawn" "$work/err"
ok $? "accepting a withdrawn proposal is refused with a clear error"
quiet_sync us && quiet_sync qatar
ok $? "... and nothing was sent (US and the mediator get nothing new)"
one qatar "$W" >"$work/one" && grep -q '"status":"withdrawn"' "$work/one" &&
	grep -q '"accepted":\[\]' "$work/one" && ! grep -q '"accepted":\[{' "$work/one"
ok $? "the mediator's view of it is unchanged (no acceptance)"

# --- expired: refused, nothing sent ----------------------------------------------
E=$(bc ve propose "$TALK" --expires 2s --term "elections=observers invited" 2>"$work/err") || bail "propose E"
syncall us qatar obs || bail "sync"
sleep 3
refused bc us accept "$TALK" "${E:0:8}"
grep -q "the version has expired" "$work/err"
ok $? "accepting an expired version is refused"
quiet_sync ve && quiet_sync qatar
ok $? "... and nothing was sent"
one ve "$E" >"$work/one" && grep -q '"status":"open"' "$work/one" &&
	grep -q '"expired":true' "$work/one" && ! grep -q '"accepted":\[{' "$work/one"
ok $? "VE's view: open, expired, not accepted"
bc us proposals "$TALK" | grep -q "expired 20"
ok $? "the proposal tree says the version expired"

# --- roles -------------------------------------------------------------------------------
refused bc obs propose "$TALK" --term "a=b"
grep -q "observers cannot act on proposals" "$work/err"
ok $? "the observer cannot propose (clear error)"
refused bc obs accept "$TALK" "${E:0:8}"
grep -q "observers cannot act on proposals" "$work/err"
ok $? "the observer cannot accept"
M=$(bc qatar propose "$TALK" --meeting --term "level=ministers" --term "place=Doha" \
	--term "window=next month" 2>"$work/err")
ok $? "the mediator may propose (a meeting)"
syncall us ve obs || bail "sync"
bc us proposals "$TALK" | grep -q "P${M:0:8} open (meeting, by mediator:"
ok $? "the parties see the mediator's meeting proposal"
refused bc qatar accept "$TALK" "${M:0:8}"
grep -q "only parties accept" "$work/err"
ok $? "the mediator cannot accept (not a party)"
bc us propose "$TALK" --meeting --term "level=ministers" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q "level, place and window" "$work/err"
ok $? "a meeting without level, place and window is a usage error"

# --- unknown and malformed ids, bad arguments --------------------------------------------------
bc us accept "$TALK" 0000abcd >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "no proposal '0000abcd' in this talk" "$work/err"
ok $? "an unknown proposal id is refused"
bc us accept "$TALK" zz >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a malformed proposal id is a usage error"
bc us propose "$TALK" --term "novalue" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a term without '=' is a usage error"
bc us propose "$TALK" --expires 3x --term "a=b" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a bad duration is a usage error"
bc us reject "$TALK" "${M:0:8}" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "reject without --reason is a usage error"
bc us propose --help | grep -q "usage: backchannel propose"
ok $? "propose --help"

# --- a suspended talk ---------------------------------------------------------------------------
bc us suspend "$TALK" --reason x >/dev/null 2>&1 || bail "suspend"
syncall ve qatar obs || bail "sync"
refused bc ve propose "$TALK" --term "a=b"
grep -q "the talk is suspended" "$work/err"
ok $? "proposing in a suspended talk is refused, saying it is suspended"
refused bc ve accept "$TALK" "${M:0:8}"
grep -q "the talk is suspended" "$work/err"
ok $? "accepting in a suspended talk is refused too"
bc us resume "$TALK" >/dev/null 2>&1 || bail "resume"
syncall ve qatar obs || bail "sync"
bc ve propose "$TALK" --term "a=b" >/dev/null 2>"$work/err"
ok $? "after resume, proposing works again"

echo "1..$n"
