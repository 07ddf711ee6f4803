#!/usr/bin/env bash
# cli_members.sh - membership through the real CLI and real relays: ground
# rules accepted at join, named relays, members on two different relays,
# leave, and watch. Speaks TAP.
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"
talk_setup "Membership"
ADDR1=$ADDR

# --- named relays ----------------------------------------------------------
start_relay "$work/relay2"
ADDR2=$ADDR
bc ve relay add home "$ADDR2" >/dev/null 2>"$work/err"
ok $? "ve names its own relay (relay add checks it is reachable)"
bc ve relay list | grep -q "^home .*bck:"
ok $? "relay list shows it"
bc ve relay list --json | grep -q '"name":"home"'
ok $? "relay list --json"
bc ve relay add 'Bad Name' "$ADDR2" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a bad relay name is a usage error"
bc ve relay add dead "127.0.0.1:1/${ADDR2#*/}" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -qi 'cannot reach' "$work/err"
ok $? "an unreachable relay is refused unless --no-check"
bc ve relay add dead "127.0.0.1:1/${ADDR2#*/}" --no-check >/dev/null 2>&1 &&
	bc ve relay remove dead && ! bc ve relay list | grep -q '^dead'
ok $? "--no-check adds it; relay remove forgets it"
bc ve relay remove nosuch >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "no relay is named" "$work/err"
ok $? "removing an unknown name is an error"
bc ve relay ping home >/dev/null 2>&1
ok $? "relay ping takes a name"

# --- a talk whose members sit on two relays ------------------------------------
T2=$(bc qatar talk new --relay "$ADDR1" --title "Two relays" --rules "Rule one." 2>"$work/err")
ok $? "qatar creates a talk on relay 1"
INV=$(bc qatar invite "$T2" --role party --side VE)
bc ve join --accept-rules --relay nosuch "$INV" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "no relay is named" "$work/err" && ! bc ve talk list | grep -q "Two relays"
ok $? "join --relay with an unknown name joins nothing"
bc ve join --accept-rules --relay home "$INV" >/dev/null 2>"$work/err"
ok $? "ve joins with its mailbox on relay 2"
INV=$(bc qatar invite "$T2" --role party --side US)
bc us join --accept-rules "$INV" >/dev/null 2>"$work/err"
ok $? "us joins with its mailbox on relay 1"
syncall qatar us ve qatar us ve
bc qatar talk show "$T2" --json >"$work/t2.json"
grep -q "$(echo "$ADDR2" | cut -d/ -f1)" "$work/t2.json" && grep -q "$(echo "$ADDR1" | cut -d/ -f1)" "$work/t2.json"
ok $? "the member list carries each member's own relay"
bc us say "$T2" --plenary "from relay 1 to both" 2>"$work/err" &&
	bc ve say "$T2" --plenary "from relay 2 to both" 2>>"$work/err"
ok $? "both speak"
syncall qatar us ve
bc us log "$T2" | grep -q "from relay 2 to both" && bc ve log "$T2" | grep -q "from relay 1 to both" &&
	bc qatar log "$T2" | grep -q "from relay 2 to both"
ok $? "statements cross between the relays both ways"
r2pid=$(pgrep -f "data-dir $work/relay2 " | head -1)
r2port=$(cat "$work/relay2/port")
kill "$r2pid"; wait "$r2pid" 2>/dev/null
BACKCHANNEL_RETRY_SECONDS=1 bc us say "$T2" --plenary "while relay 2 is down" >/dev/null 2>"$work/err"
[ $? -eq 1 ]
ok $? "with ve's relay down, a statement to ve fails (exit 1), not reported as sent"
"$RELAYD" --data-dir "$work/relay2" --listen "127.0.0.1:$r2port" 2>>"$work/relay2.log" &
extra_pids="$extra_pids $!"
for _ in $(seq 100); do BACKCHANNEL_RETRY_SECONDS=1 bc ve relay ping home >/dev/null 2>&1 && break; sleep 0.1; done
bc us sync "$T2" >/dev/null 2>"$work/err" && bc ve sync "$T2" >/dev/null 2>>"$work/err"
bc ve log "$T2" | grep -q "while relay 2 is down"
ok $? "once ve's relay is back, us's next sync posts the pending statement and ve reads it"
bc us say "$T2" --plenary "after the outage" 2>"$work/err" && bc ve sync "$T2" >/dev/null 2>&1
bc ve log "$T2" | grep -q "after the outage"
ok $? "... and the session goes on"

# --- ground rules --------------------------------------------------------------
INV=$(bc qatar invite "$TALK" --role observer)
bc obs2 init --unprotected >/dev/null 2>&1
bc obs2 join "$INV" </dev/null >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q 'No recording' "$work/err"
ok $? "join shows the talk's ground rules and needs --accept-rules"
echo no | script -qec "$BIN --profile obs2 join $INV" /dev/null >"$work/tty" 2>&1
! bc obs2 talk list | grep -q Membership
ok $? "on a terminal, answering anything but 'yes' joins nothing"

# --- leave ---------------------------------------------------------------------
bc qatar leave "$TALK" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "close it instead" "$work/err"
ok $? "the registrar cannot leave (it closes the talk)"
bc obs leave "$TALK" --reason "my mandate ended" 2>"$work/err"
ok $? "the observer leaves with a reason"
bc obs leave "$TALK" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "already left" "$work/err"
ok $? "leaving twice is an error"
syncall qatar us ve
bc qatar talk show "$TALK" --json >"$work/q.show"
[ "$(grep -o '"fingerprint"' "$work/q.show" | wc -l)" -eq 3 ]
ok $? "the registrar drops the observer from the member list"
bc us talk show "$TALK" --json >"$work/us.show"
[ "$(grep -o '"fingerprint"' "$work/us.show" | wc -l)" -eq 3 ] && bc us log "$TALK" | grep -q "left the talk: my mandate ended"
ok $? "the others see the new list and why the observer left"
bc qatar say "$TALK" --plenary "after the observer left" 2>"$work/err"
syncall obs
! bc obs log "$TALK" | grep -q "after the observer left"
ok $? "the observer no longer receives plenary statements"
bc obs say "$TALK" --plenary "still here?" >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "a member who left cannot speak"

# --- watch ---------------------------------------------------------------------
bc us watch "$TALK" --interval 0.2 --for 3 --json >"$work/watch" 2>"$work/werr" &
wpid=$!
sleep 0.8
bc ve say "$TALK" --plenary "live from VE" 2>"$work/err"
wait $wpid
st=$?
[ $st -eq 0 ] && grep -q '"text":"live from VE"' "$work/watch" && [ "$(grep -c '^{' "$work/watch")" -ge 1 ]
ok $? "watch prints a statement as it arrives, one JSON object per line"
bc us watch "$TALK" --interval 0 >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "watch refuses a zero interval"
bc us watch nosuchtalk --for 1 >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "not a talk id" "$work/err"
ok $? "watch of something that is not a talk id is an error"
bc us watch 0123456789 --for 1 >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q "no talk" "$work/err"
ok $? "watch of an unknown talk is an error"

echo "1..$n"
