#!/usr/bin/env bash
# cli_exchange.sh - commit-reveal exchanges with sequenced steps through
# the real CLI and a real relay (talk-setup.bash: qatar mediates, us = US,
# ve = VE, obs observes): commitments, the mediator's list of them,
# nothing of the other side's offer visible before the release, reveals,
# the verified release, steps done and confirmed in order, and every
# refusal (wrong role, twice, too early, out of order, not yours, talk
# suspended) exits non-zero and sends nothing. Speaks TAP.
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"
talk_setup "Detainees and flights"

OFFER_US="The US releases 10 detainees"
OFFER_VE="Venezuela accepts 2 repatriation flights a week"

# fails unless $1 (a file) holds none of the other arguments
lacks() { local f=$1; shift; for s in "$@"; do grep -qF "$s" "$f" && return 1; done; return 0; }
# the number of integrity events in a member's log
integrity() { bc "$1" log "$TALK" | grep -c ' integrity '; }

# --- who may commit ----------------------------------------------------------
bc obs exchange "$TALK" commit "observer offer" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'only a party' "$work/err"
ok $? "the observer cannot commit (exit 1, says only a party)"
bc qatar exchange "$TALK" commit "mediator offer" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'only a party' "$work/err"
ok $? "the mediator cannot commit"
bc qatar exchange "$TALK" show --json | grep -q '"rounds":\[\]'
ok $? "... and no round exists anywhere (nothing was sent)"

# --- commitments ----------------------------------------------------------------
bc us exchange "$TALK" commit "$OFFER_US" >"$work/out" 2>"$work/err"
[ $? -eq 0 ] && grep -q 'committed to round 1' "$work/out"
ok $? "us commits to its offer for round 1"
bc us exchange "$TALK" commit "a second offer" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'already committed to round 1' "$work/err"
ok $? "committing twice in a round is refused"
bc us exchange "$TALK" reveal >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'not every side has committed' "$work/err"
ok $? "revealing before every side committed is refused"
bc ve exchange "$TALK" commit "$OFFER_VE" >/dev/null 2>"$work/err"
ok $? "ve commits to its offer"
bc qatar sync "$TALK" >"$work/q.sync" 2>"$work/err"
ok $? "the mediator syncs"
[ "$(grep -c 'committed to round 1' "$work/q.sync")" -eq 3 ] &&
	grep -q "US:$fp_us - - committed to round 1" "$work/q.sync" &&
	grep -q "VE:$fp_ve - - committed to round 1" "$work/q.sync" &&
	grep -q 'mediator:.* all sides committed to round 1' "$work/q.sync"
ok $? "... takes one commitment per party and sends the list of all (ALLCOMMITTED)"
lacks "$work/q.sync" "$OFFER_US" "$OFFER_VE" "a second offer"
ok $? "... and the mediator has seen no offer yet"
bc us sync "$TALK" >"$work/us.sync" && bc ve sync "$TALK" >"$work/ve.sync" && bc obs sync "$TALK" >"$work/obs.sync"
ok $? "us, ve and the observer sync"
grep -q 'all sides committed to round 1' "$work/us.sync" &&
	grep -q 'all sides committed to round 1' "$work/ve.sync" &&
	grep -q 'all sides committed to round 1' "$work/obs.sync"
ok $? "every member got the list of commitments"
bc us exchange "$TALK" show --json >"$work/us.show" &&
	grep -q '"phase":"revealing"' "$work/us.show" &&
	[ "$(grep -o '"committed":true' "$work/us.show" | wc -l)" -eq 2 ]
ok $? "us sees both sides committed"
bc us log "$TALK" >"$work/us.log"; bc ve log "$TALK" >"$work/ve.log"; bc obs log "$TALK" >"$work/obs.log"
bc ve exchange "$TALK" show --json >"$work/ve.show"; bc obs exchange "$TALK" show --json >"$work/obs.show"
bc us exchange "$TALK" show >"$work/us.showt"
lacks "$work/us.log" "$OFFER_VE" && lacks "$work/us.show" "$OFFER_VE" && lacks "$work/us.showt" "$OFFER_VE" &&
	lacks "$work/ve.log" "$OFFER_US" && lacks "$work/ve.show" "$OFFER_US" &&
	lacks "$work/obs.log" "$OFFER_US" "$OFFER_VE" && lacks "$work/obs.show" "$OFFER_US" "$OFFER_VE"
ok $? "before the release no one sees the other side's offer (logs, show, show --json)"
grep -qF "\"my_offer\":\"$OFFER_US\"" "$work/us.show" && grep -q '"offer":null' "$work/us.show"
ok $? "... a party sees only its own offer"

# --- a suspended talk -------------------------------------------------------------
bc us suspend "$TALK" --reason "consulting capital" >/dev/null 2>&1 && syncall ve qatar obs
ok $? "us suspends the talk"
bc ve exchange "$TALK" reveal >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'suspended' "$work/err"
ok $? "revealing in a suspended talk is refused, saying the talk is suspended"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1
lacks "$work/q.sync" "revealed"
ok $? "... and nothing reached the mediator"
bc ve resume "$TALK" >/dev/null 2>&1 && syncall us qatar obs
ok $? "ve resumes the talk"

# --- reveals and the release -----------------------------------------------------------
bc us exchange "$TALK" reveal >"$work/out" 2>"$work/err"
[ $? -eq 0 ] && grep -q 'revealed round 1' "$work/out"
ok $? "us reveals its offer to the mediator"
bc us exchange "$TALK" reveal >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'already revealed' "$work/err"
ok $? "revealing twice is refused"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1
grep -q 'revealed round 1' "$work/q.sync" && lacks "$work/q.sync" "released"
ok $? "the mediator holds the release while one side has not revealed"
bc ve sync "$TALK" >"$work/ve.sync" 2>&1
lacks "$work/ve.sync" "$OFFER_US"
ok $? "... and ve still sees nothing of the US offer"
bc ve exchange "$TALK" reveal >/dev/null 2>"$work/err"
ok $? "ve reveals"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1
grep -qF "round 1 released: US: $OFFER_US; VE: $OFFER_VE" "$work/q.sync"
ok $? "the mediator's sync releases both offers together (RELEASE)"
bc us sync "$TALK" >"$work/us.sync" && bc ve sync "$TALK" >"$work/ve.sync" && bc obs sync "$TALK" >"$work/obs.sync"
ok $? "everyone syncs"
for f in us ve obs; do
	grep -qF "mediator:$fp_qatar - - round 1 released: US: $OFFER_US; VE: $OFFER_VE" "$work/$f.sync" || false
done
ok $? "us, ve and the observer each verified the release: both offers"
bc us exchange "$TALK" show --json >"$work/us.show" && bc ve exchange "$TALK" show --json >"$work/ve.show"
grep -q '"phase":"released"' "$work/us.show" &&
	grep -qF "\"offer\":\"$OFFER_VE\"" "$work/us.show" && grep -qF "\"offer\":\"$OFFER_US\"" "$work/us.show" &&
	grep -qF "\"offer\":\"$OFFER_US\"" "$work/ve.show"
ok $? "show --json holds both released offers"
[ "$(integrity us)" -eq 0 ] && [ "$(integrity ve)" -eq 0 ] && [ "$(integrity qatar)" -eq 0 ] && [ "$(integrity obs)" -eq 0 ]
ok $? "no integrity event anywhere in the honest run"

# --- steps ------------------------------------------------------------------------------
bc us exchange "$TALK" steps --step "US: x" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'only the mediator' "$work/err"
ok $? "a party cannot list the steps"
bc qatar exchange "$TALK" steps --step "XX: nothing" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q 'not the side of a party' "$work/err"
ok $? "a step for an unknown side is a usage error"
bc qatar exchange "$TALK" steps --step "VE: release the 10 detainees" \
	--step "US: authorize 2 flights/week" >"$work/out" 2>"$work/err"
ok $? "the mediator lists two steps"
bc qatar exchange "$TALK" steps --step "VE: again" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'already set' "$work/err"
ok $? "the steps of a round are set once"
syncall us ve obs || bail "sync"
bc us log "$TALK" | grep -q 'steps of round 1: 1. VE (confirmed by US): release the 10 detainees; 2. US (confirmed by VE): authorize 2 flights/week'
ok $? "us received the steps"
bc us exchange "$TALK" done 2 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'step 2 cannot be done before step 1 is confirmed' "$work/err"
ok $? "doing step 2 before step 1 is confirmed is refused"
bc us exchange "$TALK" done 1 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "step 1 is VE's to do" "$work/err"
ok $? "doing another side's step is refused"
bc us exchange "$TALK" confirm 1 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'not done yet' "$work/err"
ok $? "confirming a step that is not done is refused"
bc ve exchange "$TALK" done 1 --note "handed over at the airport" >/dev/null 2>"$work/err"
ok $? "ve reports step 1 done, with a note"
bc ve exchange "$TALK" confirm 1 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "step 1 is US's to confirm, not yours" "$work/err"
ok $? "confirming a step that is not yours to confirm is refused"
bc obs exchange "$TALK" confirm 1 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'only a party' "$work/err"
ok $? "the observer cannot confirm"
bc us sync "$TALK" >"$work/us.sync" 2>&1
grep -q "VE:$fp_ve - - step 1 done by VE: release the 10 detainees (note: handed over at the airport)" "$work/us.sync"
ok $? "us sees step 1 done by VE"
bc us exchange "$TALK" confirm 1 >/dev/null 2>"$work/err"
ok $? "us confirms step 1"
bc us exchange "$TALK" done 2 >/dev/null 2>"$work/err"
ok $? "then us does step 2"
bc ve sync "$TALK" >"$work/ve.sync" 2>&1
grep -q "US:$fp_us - - step 1 confirmed by US" "$work/ve.sync" &&
	grep -q "US:$fp_us - - step 2 done by US: authorize 2 flights/week" "$work/ve.sync"
ok $? "ve sees step 1 confirmed and step 2 done"
bc ve exchange "$TALK" confirm 2 >/dev/null 2>"$work/err"
ok $? "ve confirms step 2"
bc ve exchange "$TALK" confirm 2 >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'every step of round 1 is already confirmed' "$work/err"
ok $? "nothing is left to confirm"
syncall qatar us obs || bail "sync"
bc obs exchange "$TALK" show --json >"$work/obs.show"
[ "$(grep -o '"state":"confirmed"' "$work/obs.show" | wc -l)" -eq 2 ] &&
	grep -q '"note":"handed over at the airport"' "$work/obs.show"
ok $? "the observer followed every step"
bc qatar log "$TALK" | grep -q "VE:$fp_ve - - step 2 confirmed by VE; every step is confirmed"
ok $? "the mediator's timeline ends with step 2 confirmed by VE"
[ "$(integrity us)" -eq 0 ] && [ "$(integrity ve)" -eq 0 ] && [ "$(integrity qatar)" -eq 0 ] && [ "$(integrity obs)" -eq 0 ]
ok $? "still no integrity event anywhere"

# --- round 2: steps only after a release ----------------------------------------------
bc us exchange "$TALK" commit "round two offer" >"$work/out" 2>&1
grep -q 'round 2' "$work/out"
ok $? "after a released round, a new commitment opens round 2"
bc qatar sync "$TALK" >/dev/null 2>&1
bc qatar exchange "$TALK" steps --round 2 --step "VE: x" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q 'not released yet' "$work/err"
ok $? "steps for a round that is not released are refused"

# --- the last commitment reaches the mediator while the talk is suspended ---------
bc us suspend "$TALK" --reason "pause" >/dev/null 2>&1
ok $? "us suspends the talk again"
bc ve exchange "$TALK" commit "round two VE offer" >/dev/null 2>&1
ok $? "ve, not yet synced, commits to round 2"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1
grep -q "VE:$fp_ve - - committed to round 2" "$work/q.sync" && lacks "$work/q.sync" "all sides committed to round 2"
ok $? "the mediator takes the commitment but sends nothing while suspended"
bc qatar exchange "$TALK" show >"$work/q.show" 2>&1
grep -q 'round 2  revealing  (the list of commitments is not sent yet)' "$work/q.show"
ok $? "... show says the list of commitments is pending"
bc ve sync "$TALK" >/dev/null 2>&1 && bc ve resume "$TALK" >/dev/null 2>&1 && bc qatar sync "$TALK" >/dev/null 2>&1
ok $? "ve resumes; the mediator syncs"
bc qatar exchange "$TALK" show >"$work/q.show" 2>&1
lacks "$work/q.show" "not sent yet" && bc qatar log "$TALK" | grep -q 'all sides committed to round 2'
ok $? "the mediator's next exchange command sends the pending list"
bc us sync "$TALK" >"$work/us.sync" 2>&1
grep -q 'all sides committed to round 2' "$work/us.sync"
ok $? "... and us receives it"

bc us exchange --help | grep -q 'usage: backchannel exchange TALK commit TEXT'
ok $? "--help prints the usage (exit 0)"
bc us exchange "$TALK" frobnicate >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown exchange command is a usage error (exit 2)"
echo "1..$n"
