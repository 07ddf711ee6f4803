#!/usr/bin/env bash
# cli_mutual.sh - double-blind mutual questions (ask / answer) through the
# real CLI and a real relay on 127.0.0.1: a match, a "no match" that
# tells nobody who said no, the observer who never sees a question, the
# refusals (second answer, unknown id, wrong roles, bad input) that leave
# everyone's views unchanged, and a result held back while the talk is
# suspended. Speaks TAP.
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"

talk_setup "Mutual questions"
TEXT1="Would you accept a leader-level meeting?"
TEXT2="Would you accept a ceasefire by Friday?"

# --- help and usage ------------------------------------------------------------
bc qatar ask --help >"$work/out" 2>&1 && grep -q 'usage: backchannel ask' "$work/out"
ok $? "ask --help prints the usage and exits 0"
bc us answer --help >"$work/out" 2>&1 && grep -q 'usage: backchannel answer' "$work/out"
ok $? "answer --help prints the usage and exits 0"

# --- a match -------------------------------------------------------------------
Q1=$(bc qatar ask "$TALK" "$TEXT1" 2>"$work/err")
ok $? "qatar asks a question"
echo "$Q1" | grep -qE '^Q[0-9a-f]{8}$'
ok $? "the question id is Q + 8 hex digits ($Q1)"
bc qatar log "$TALK" | grep -qF "asked $Q1: $TEXT1"
ok $? "qatar's log: asked $Q1 with the text"
syncall us ve obs || bail "sync"
bc us log "$TALK" | grep -qF "asked $Q1: $TEXT1" &&
	bc ve log "$TALK" | grep -qF "asked $Q1: $TEXT1"
ok $? "us and ve get the question"
bc us answer "$TALK" --list >"$work/out" && grep -q "^$Q1 .* open, asked by mediator" "$work/out" &&
	grep -qF "$TEXT1" "$work/out"
ok $? "us's list shows it open"
bc obs log "$TALK" >"$work/out" && ! grep -q "$Q1" "$work/out" && ! grep -qF "$TEXT1" "$work/out"
ok $? "the observer's log holds no trace of the question"
bc obs answer "$TALK" --list --json >"$work/out" && [ "$(cat "$work/out")" = "[]" ]
ok $? "the observer's list is empty"
bc us answer "$TALK" "$Q1" yes >"$work/out" 2>"$work/err" && grep -q "answered $Q1: yes" "$work/out"
ok $? "us answers yes"
bc ve answer "$TALK" "${Q1,,}" YES >/dev/null 2>"$work/err"
ok $? "ve answers yes (the id is case-insensitive)"
bc qatar sync "$TALK" >"$work/q.sync" 2>"$work/err"
ok $? "qatar syncs: tallies and sends the result"
grep -qF "$Q1: match: $TEXT1" "$work/q.sync" && [ "$(grep -c "answered $Q1\$" "$work/q.sync")" -eq 2 ]
ok $? "qatar sees both answered (not how) and the match"
syncall us ve obs || bail "sync"
for p in us ve; do
	bc $p log "$TALK" | grep -qF "$Q1: match: $TEXT1" || break
done
ok $? "us and ve both see: match, with the text"
bc us answer "$TALK" --list --json >"$work/out" &&
	grep -q "\"question\":\"$Q1\"" "$work/out" && grep -q '"status":"match"' "$work/out" &&
	grep -q '"my_answer":"yes"' "$work/out"
ok $? "us's --json list: status match, my_answer yes"
bc obs log "$TALK" | grep -q "$Q1"
[ $? -ne 0 ]
ok $? "the observer still sees nothing of it"

# --- no match: US yes, VE no ------------------------------------------------------
Q2=$(bc qatar ask "$TALK" "$TEXT2" 2>"$work/err")
ok $? "qatar asks a second question ($Q2)"
syncall us ve obs || bail "sync"
bc us answer "$TALK" "$Q2" yes >/dev/null 2>"$work/err"
ok $? "us answers yes"
bc qatar sync "$TALK" >/dev/null 2>&1
bc qatar ask "$TALK" --list >"$work/out" &&
	grep -q "^$Q2 .*open, 1 of 2 answered" "$work/out" &&
	grep -q "answered: US:$fp_us" "$work/out" && grep -q "waiting for: VE:$fp_ve" "$work/out"
ok $? "qatar's list: who answered so far (US), who not (VE)"
grep -A3 "^$Q2" "$work/out" | grep -qiE 'yes|no\b'
[ $? -ne 0 ]
ok $? "... and not how"
bc ve answer "$TALK" "$Q2" no >/dev/null 2>"$work/err"
ok $? "ve answers no"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1 && grep -qF "$Q2: no match" "$work/q.sync"
ok $? "qatar: no match"
syncall us ve obs || bail "sync"
bc us log "$TALK" >"$work/us.log" && bc ve log "$TALK" >"$work/ve.log"
[ "$(grep -F "$Q2" "$work/us.log" | grep -F 'no match' | sed 's/^[^ ]* //')" = \
	"$(grep -F "$Q2" "$work/ve.log" | grep -F 'no match' | sed 's/^[^ ]* //')" ] &&
	grep -q "$Q2: no match\$" "$work/us.log"
ok $? "us and ve both see exactly the same \"$Q2: no match\""
! grep -F "$Q2" "$work/us.log" "$work/ve.log" | grep -q 'match:' &&
	! grep -qF "$TEXT2" <(grep -v "asked $Q2" "$work/us.log")
ok $? "no match reveals nothing more (no text, no \"match:\")"
bc us log "$TALK" --json >"$work/us.json" && bc us answer "$TALK" --list --json >"$work/us.list.json" &&
	bc us answer "$TALK" --list >"$work/us.list"
cat "$work/us.log" "$work/us.json" "$work/us.list.json" "$work/us.list" >"$work/us.all"
grep -q "VE:$fp_ve.*$Q2\|$Q2.*VE:" "$work/us.all" ||
	grep -qE "answered $Q2: no|answered no|\"my_answer\":\"no\"" "$work/us.all" ||
	grep -q '"answered"' "$work/us.list.json" ||
	[ "$(grep -c "$Q2" "$work/us.log")" -ne 3 ]
[ $? -ne 0 ]
ok $? "nothing in US's log, --json log or list tells VE's answer"
grep -q "$Q2.*no match (you answered yes)" "$work/us.list" &&
	grep -q "$Q2.*no match (you answered no)" <(bc ve answer "$TALK" --list)
ok $? "each party's list shows its own answer only"
bc obs log "$TALK" >"$work/out"; bc obs answer "$TALK" --list >>"$work/out"
! grep -q "$Q2" "$work/out" && ! grep -qF "$TEXT2" "$work/out"
ok $? "the observer never sees the second question either"

# --- refusals ----------------------------------------------------------------------
Q3=$(bc qatar ask "$TALK" "Would you release the detainees?" 2>"$work/err")
ok $? "qatar asks a third question ($Q3)"
syncall us ve obs qatar || bail "sync"
bc us answer "$TALK" "$Q3" yes >/dev/null 2>"$work/err"
ok $? "us answers it yes"
syncall qatar us ve obs || bail "sync"
for p in qatar us ve obs; do bc $p log "$TALK" >"$work/$p.before"; done
bc qatar ask "$TALK" --list >"$work/qatar.list.before"

bc us answer "$TALK" "$Q3" no >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "already answered $Q3" "$work/err"
ok $? "answering twice: clear error, exit 1"
bc us answer "$TALK" "$Q2" yes >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "already answered" "$work/err"
ok $? "answering a decided question again: exit 1"
bc us answer "$TALK" Qdeadbeef yes >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "no question Qdeadbeef" "$work/err"
ok $? "answering an unknown id: clear error, exit 1"
bc us answer "$TALK" not-an-id yes >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q "not a question id" "$work/err"
ok $? "a malformed id: usage error, exit 2"
bc ve answer "$TALK" "$Q3" maybe >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q "yes or no" "$work/err"
ok $? "an answer other than yes/no: exit 2"
bc obs answer "$TALK" "$Q3" yes >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "only a party answers" "$work/err"
ok $? "the observer answering: clear error, exit 1"
bc us ask "$TALK" "Shall we?" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "only the mediator asks" "$work/err"
ok $? "a party asking: clear error, exit 1"
bc qatar answer "$TALK" "$Q3" yes >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "mediator does not answer" "$work/err"
ok $? "the mediator answering: clear error, exit 1"
bc qatar ask "$TALK" "" >/dev/null 2>"$work/err"
[ $? -eq 2 ]
ok $? "an empty question: exit 2"
bc qatar ask "$TALK" "$(printf 'two\nlines')" >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q "control characters" "$work/err"
ok $? "a question with a control character: exit 2"
bc qatar ask "$TALK" "$(head -c 1025 /dev/zero | tr '\0' x)" >/dev/null 2>"$work/err"
[ $? -eq 2 ]
ok $? "a question over 1024 bytes: exit 2"
syncall qatar us ve obs || bail "sync"
same=0
for p in qatar us ve obs; do
	bc $p log "$TALK" >"$work/$p.after"
	cmp -s "$work/$p.before" "$work/$p.after" || same=1
done
bc qatar ask "$TALK" --list >"$work/qatar.list.after"
cmp -s "$work/qatar.list.before" "$work/qatar.list.after" || same=1
grep -q "^$Q3 .*open, 1 of 2 answered" "$work/qatar.list.after" || same=1
ok $same "after the refusals and a sync, every view is unchanged ($Q3 still 1 of 2)"

# --- suspended ----------------------------------------------------------------------
Q4=$(bc qatar ask "$TALK" "Would you meet in Doha?" 2>/dev/null) || bail "ask Q4"
syncall us || bail "sync"
bc us suspend "$TALK" --reason "consulting" >/dev/null 2>&1 || bail "suspend"
bc qatar sync "$TALK" >/dev/null 2>&1
Q5=$(bc qatar ask "$TALK" "Anything?" 2>"$work/err")
[ $? -eq 1 ] && grep -q "is suspended" "$work/err" && [ -z "$Q5" ]
ok $? "asking while suspended: 'the talk is suspended', exit 1"
bc us answer "$TALK" "$Q4" yes >/dev/null 2>"$work/err"
[ $? -eq 1 ] && grep -q "is suspended" "$work/err"
ok $? "answering while suspended: 'the talk is suspended', exit 1"
# ve has not synced the suspension: its answer still goes out, and the
# mediator gets the last answer while the talk is suspended.
bc ve answer "$TALK" "$Q3" yes >/dev/null 2>"$work/err"
ok $? "ve (unaware of the suspension) answers $Q3"
bc qatar sync "$TALK" >"$work/q.sync" 2>&1
bc qatar ask "$TALK" --list >"$work/out" && grep -q "^$Q3 .*match (result not sent yet" "$work/out"
ok $? "qatar holds the result back while suspended"
bc us resume "$TALK" >/dev/null 2>&1 || bail "resume"
bc qatar sync "$TALK" >/dev/null 2>&1
bc qatar ask "$TALK" --list >"$work/out" && grep -q "^$Q3 .* match\$" "$work/out"
ok $? "after resume, qatar's list sends the held-back result"
syncall us ve || bail "sync"
bc us log "$TALK" | grep -qF "$Q3: match: Would you release the detainees?" &&
	bc ve log "$TALK" | grep -qF "$Q3: match: Would you release the detainees?"
ok $? "both parties then see the match"
for p in qatar us ve; do
	bc $p log "$TALK" | grep -q ' integrity ' && break
done
[ $? -ne 0 ]
ok $? "no integrity event anywhere in the honest run"

echo "1..$n"
