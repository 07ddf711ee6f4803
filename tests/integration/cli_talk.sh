#!/usr/bin/env bash
# cli_talk.sh - talks through the real CLI and a real relay on 127.0.0.1:
# create, invite, join, the three audiences, one-time invites, typos and
# unknown talks. Speaks TAP.
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"
start_relay

for p in qatar us ve eve; do bc $p init --unprotected >/dev/null 2>&1 || bail "init $p"; done
fp_us=$(fp us) fp_ve=$(fp ve)

# --- creating and inviting -------------------------------------------------
bc qatar talk new --relay "$ADDR" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "talk new without --title is a usage error (exit 2)"
TALK=$(bc qatar talk new --relay "$ADDR" --title "Border talks" --rules "No recording." 2>"$work/err")
ok $? "qatar creates a talk"
echo "$TALK" | grep -qE '^[0-9a-f]{32}$'
ok $? "the talk id is 32 hex digits"
bc qatar talk list | grep -q "Border talks"
ok $? "talk list shows it"
bc qatar talk show "${TALK:0:6}" --json | grep -q '"role":"mediator"'
ok $? "talk show accepts a prefix; the creator is mediator by default"

INV_US=$(bc qatar invite "$TALK" --role party --side US 2>"$work/err")
ok $? "qatar invites us (party, US)"
INV_VE=$(bc qatar invite "$TALK" --role party --side VE --expires 24 2>"$work/err")
ok $? "qatar invites ve (party, VE, expires in 24 h)"
[ -n "$INV_US" ] && [ "$INV_US" != "$INV_VE" ]
ok $? "each invite is distinct"
bc qatar invite "$TALK" --role party >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a party invite without --side is a usage error"

# --- joining -----------------------------------------------------------------
bc us join "$INV_US" </dev/null >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q 'No recording' "$work/err" && grep -q 'accept-rules' "$work/err"
ok $? "join without --accept-rules shows the ground rules and joins nobody (exit 2)"
bc us talk list | grep -q "Border talks"
[ $? -ne 0 ]
ok $? "... and us holds no talk"
bc us join --accept-rules "$INV_US" >"$work/us.join" 2>"$work/err"
st=$?
[ $st -eq 0 ] && grep -q "$TALK" "$work/us.join" && grep -q 'Border talks' "$work/us.join" &&
	grep -q 'pending' "$work/us.join"
ok $? "us joins: prints the talk id, title and pending"
bc ve join --accept-rules "$INV_VE" >/dev/null 2>"$work/err"
ok $? "ve joins"
bc qatar sync "$TALK" >"$work/q.sync1" 2>"$work/err"
ok $? "qatar syncs (accepts the joins, sends the members)"
bc us sync >/dev/null 2>"$work/err" && bc ve sync >/dev/null 2>>"$work/err"
ok $? "us and ve sync"
bc us talk show "$TALK" --json >"$work/us.show"
grep -q '"joined":true' "$work/us.show" &&
	[ "$(grep -o '"fingerprint"' "$work/us.show" | wc -l)" -eq 3 ]
ok $? "us knows its membership and the three members"

# --- audiences -----------------------------------------------------------------
bc us say "$TALK" --caucus --label paraphrase "US could accept a phased withdrawal" 2>"$work/err"
ok $? "us says to the caucus (paraphrase)"
bc us say "$TALK" --plenary --label verbatim "x" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "--label on a plenary statement is a usage error"
bc qatar sync "$TALK" >"$work/q.sync2" 2>"$work/err"
grep -q 'phased withdrawal' "$work/q.sync2" && grep 'phased withdrawal' "$work/q.sync2" | grep -q paraphrase
ok $? "qatar's sync shows the caucus statement with its label"
bc ve sync >/dev/null 2>&1
bc ve log "$TALK" >"$work/ve.log" 2>"$work/err"
[ $? -eq 0 ] && ! grep -q 'phased withdrawal' "$work/ve.log"
ok $? "ve does not see us's caucus statement"

bc qatar say "$TALK" "Welcome. We start with the agenda." 2>"$work/err"
ok $? "qatar makes a plenary statement"
bc us sync >"$work/us.sync" 2>&1; bc ve sync >"$work/ve.sync" 2>&1
grep -q 'start with the agenda' "$work/us.sync" && grep -q 'start with the agenda' "$work/ve.sync"
ok $? "both parties see the plenary statement"

bc us say "$TALK" --direct "$fp_ve" "Off the record: we can move on tariffs." 2>"$work/err"
ok $? "us speaks directly to ve (by fingerprint prefix)"
bc ve sync >"$work/ve.sync2" 2>&1
grep -q 'move on tariffs' "$work/ve.sync2"
ok $? "ve sees the direct statement"
bc qatar sync >/dev/null 2>&1
bc qatar log "$TALK" >"$work/q.log" 2>&1
[ -s "$work/q.log" ] && ! grep -q 'move on tariffs' "$work/q.log"
ok $? "qatar does not see the direct statement"
bc us log "$TALK" --json | grep -q '"audience":"direct"'
ok $? "log --json of the author lists the direct statement"
bc us say "$TALK" --direct ffffffffffff "x" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -qi 'no member' "$work/err"
ok $? "--direct with an unknown fingerprint is refused"

bc us say "$TALK" --direct "$fp_us,$fp_ve" "Just between us two." 2>"$work/err"
ok $? "--direct naming oneself too: the author is dropped from the readers"
bc qatar say "$TALK" --direct "$fp_ve" "Qatar to VE only." 2>"$work/err"
ok $? "the mediator speaks to one party with --direct"
bc ve sync >"$work/ve.sync3" 2>&1; bc us sync >"$work/us.sync3" 2>&1
grep -q 'Qatar to VE only' "$work/ve.sync3" && grep -q 'Just between us two' "$work/ve.sync3" &&
	! grep -q 'Qatar to VE only' "$work/us.sync3"
ok $? "ve reads both; us does not read qatar's direct statement to ve"

bc us say "$TALK" --caucus $'escape \e[31mred\nsecond line' 2>"$work/err"
bc qatar sync "$TALK" >"$work/q.sync3" 2>&1
grep -q 'escape \\x1b\[31mred\\nsecond line' "$work/q.sync3" && ! grep -q $'\e' "$work/q.sync3"
ok $? "control characters in statements are escaped, not sent to the terminal"

# --- refusals ------------------------------------------------------------------
bc eve join --accept-rules "$INV_US" >/dev/null 2>&1
bc qatar sync >/dev/null 2>&1
bc qatar talk show "$TALK" --json >"$work/q.show"
[ "$(grep -o '"fingerprint"' "$work/q.show" | wc -l)" -eq 3 ]
ok $? "a reused invite adds no third party (the registrar refuses it)"

bc eve say "$TALK" "let me in" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'cannot speak' "$work/err"
ok $? "a refused joiner cannot speak"

bad=$(echo "$INV_VE" | sed 's/\(.\)$/\1/; s/\(.\{20\}\)\(.\)/\1X/')
[ "$bad" = "$INV_VE" ] && bc eve say "$TALK" "let me in" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'cannot speak' "$work/err"
ok $? "a refused joiner cannot speak"

bad=$(echo "$INV_VE" | sed 's/\(.\{20\}\)\(.\)/\1Y/')
bc eve join --accept-rules "$bad" >/dev/null 2>"$work/err"
[ $? -eq 3 ] && grep -q 'typo' "$work/err"
ok $? "a mistyped invite is refused (exit 3)"

bc us log 0123456789abcdef0123456789abcdef >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'no talk' "$work/err"
ok $? "an unknown talk id: clear error, non-zero exit"
bc us say >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "say without arguments is a usage error"

# --- the mediator passes statements on under their labels ----------------
sid=$(bc qatar log "$TALK" | grep 'US could accept a phased withdrawal' | grep -o '#[0-9a-f]\{8\}' | head -n 1)
[ -n "$sid" ]
ok $? "the mediator's log shows the statement's id"
bc qatar relay "$TALK" "$sid" --as verbatim >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'label allows' "$work/err"
ok $? "passing a paraphrase statement on verbatim is refused"
bc qatar relay "$TALK" "$sid" >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "a paraphrase without the mediator's own words is a usage error"
bc qatar relay "$TALK" "$sid" --as paraphrase "One side could consider a phased withdrawal." >/dev/null 2>&1
ok $? "the mediator passes it on as a paraphrase"
bc ve sync "$TALK" >/dev/null 2>&1
bc ve log "$TALK" | grep -q 'passed on by the mediator: One side could consider a phased withdrawal.'
ok $? "ve receives the paraphrase, unattributed"
bc ve log "$TALK" | grep -q 'US could accept'
[ $? -ne 0 ]
ok $? "ve never sees the original words"
bc us sync "$TALK" >/dev/null 2>&1
bc us log "$TALK" | grep -q 'the mediator passed on your statement (paraphrase)'
ok $? "the author sees what was passed on from its statement"
bc ve say "$TALK" --caucus --label private "Private to the mediator." >/dev/null 2>&1
bc qatar sync "$TALK" >/dev/null 2>&1
pid=$(bc qatar log "$TALK" | grep 'Private to the mediator' | grep -o '#[0-9a-f]\{8\}' | head -n 1)
[ -n "$pid" ] && ! bc qatar relay "$TALK" "$pid" --as paraphrase "something" >/dev/null 2>"$work/err" &&
	grep -q 'label allows' "$work/err"
ok $? "a private statement is never passed on"
bc us relay "$TALK" "$sid" --as paraphrase "x" >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "a party cannot pass statements on"

# --- suspend, resume, close ------------------------------------------------
bc qatar suspend "$TALK" --reason "x" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'only a party' "$work/err"
ok $? "the mediator cannot suspend (a party does)"
bc us suspend "$TALK" --reason "Halting all outreach" >/dev/null 2>&1
ok $? "us suspends the talk with a reason"
for p in qatar ve; do bc $p sync "$TALK" >/dev/null 2>&1; done
bc ve talk show "$TALK" --json >"$work/show" 2>&1
grep -q '"state":"suspended"' "$work/show" && grep -q 'Halting all outreach' "$work/show"
ok $? "ve sees the talk suspended, by whom and why"
bc ve say "$TALK" "Anything new?" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'suspended or closed' "$work/err"
ok $? "nothing but resume and close is sent while suspended"
bc ve resume "$TALK" --reason "Some channel still exists" >/dev/null 2>&1
ok $? "the other party resumes it"
for p in qatar us; do bc $p sync "$TALK" >/dev/null 2>&1; done
bc us talk show "$TALK" | grep -q '^state     open'
ok $? "us sees it open again"
bc us say "$TALK" --plenary "Talks resume." >/dev/null 2>&1
ok $? "statements flow again after resuming"
bc us close "$TALK" >/dev/null 2>"$work/err"
[ $? -ne 0 ] && grep -q 'only a mediator' "$work/err"
ok $? "a party cannot close the talk"
bc qatar close "$TALK" --reason "Agreement reached" >/dev/null 2>&1
ok $? "the mediator closes it"
for p in us ve; do bc $p sync "$TALK" >/dev/null 2>&1; done
bc ve resume "$TALK" >/dev/null 2>&1
[ $? -ne 0 ] && bc ve talk show "$TALK" | grep -q '^state     closed'
ok $? "a closed talk cannot be resumed"
bc us log "$TALK" | grep -q 'suspended the talk: Halting all outreach'
ok $? "the timeline shows who suspended it and why"
echo "1..$n"
