#!/usr/bin/env bash
# cli_text.sh - the single negotiating text through the real CLI and a real
# relay on 127.0.0.1 (talk_setup: qatar mediator, us party US, ve party VE,
# obs observer): draft, private comments (who reads what), revise, call,
# a rejected round, a late vote, a second revision, adoption on every
# member, every refusal (nothing sent, non-zero exit) and the timeline.
# Speaks TAP.
. "${BC_TOP:-.}/tests/integration/talk-setup.bash"

talk_setup "Text talks"
T=$TALK
out=$work/out err=$work/err

# expect STATUS PATTERN NAME -- PROFILE ARGS...: the exit status is STATUS
# and stderr matches PATTERN.
expect() {
	local want=$1 pat=$2 name=$3 st
	shift 4
	bc "$@" >"$out" 2>"$err"
	st=$?
	[ "$st" -eq "$want" ] && grep -qiE -- "$pat" "$err"
	ok $? "$name (exit $st)"
}
# outbox_quiet PROFILE...: nobody receives anything new (a refused action
# sent nothing): each sync prints no event.
quiet() {
	local p
	for p in "$@"; do
		[ -z "$(bc "$p" sync "$T" 2>&1)" ] || return 1
	done
}
json() { bc "$1" --json text "$T" show; }

# --- usage ------------------------------------------------------------------
bc qatar text --help >"$out" 2>&1 && grep -q 'text TALK vote' "$out"
ok $? "text --help prints the usage (exit 0)"
bc qatar text "$T" draft --help >"$out" 2>&1 && grep -q 'first version' "$out"
ok $? "text TALK draft --help (exit 0)"
expect 2 'usage' "draft without a text is a usage error" -- qatar text "$T" draft
expect 2 'usage' "draft with both --file and TEXT is a usage error" -- qatar text "$T" draft --file /dev/null "x"
expect 2 '1\.\.65536' "draft of an empty file is a usage error" -- qatar text "$T" draft --file /dev/null
head -c 65537 /dev/zero | tr '\0' 'a' >"$work/big.txt"
expect 2 '1\.\.65536' "draft of a 65537-byte file is a usage error" -- qatar text "$T" draft --file "$work/big.txt"
printf 'bad \377 utf8\n' >"$work/bad.txt"
expect 2 'UTF-8' "draft of a non-UTF-8 file is a usage error" -- qatar text "$T" draft --file "$work/bad.txt"
expect 2 'unknown text command' "an unknown subcommand is a usage error" -- qatar text "$T" frobnicate
expect 2 'yes.no' "vote maybe is a usage error" -- us text "$T" vote maybe
expect 2 'version' "--version 0 is a usage error" -- us text "$T" comment --version 0 "x"

# --- before a draft -----------------------------------------------------------
expect 1 'only a mediator' "a party cannot draft" -- us text "$T" draft "US text"
expect 1 'no draft to revise' "revise before a draft is refused" -- qatar text "$T" revise "x"
expect 1 'no text yet' "call before a draft is refused" -- qatar text "$T" call
expect 1 'no vote round' "vote before any round is refused" -- us text "$T" vote yes
expect 1 'no text yet' "text show before a draft says there is none" -- us text "$T" show
quiet qatar us ve obs
ok $? "none of the refused actions sent anything"

# --- draft ----------------------------------------------------------------------
printf 'Article 1. Ceasefire from day 1.\nArticle 2. Prisoner exchange.\n' >"$work/v1.txt"
bc qatar text "$T" draft --file "$work/v1.txt" >"$out" 2>"$err" &&
	grep -q 'drafted text v1 (63 bytes)' "$out"
ok $? "qatar drafts v1 from a file (63 bytes)"
expect 1 'drafted already' "a second draft is refused" -- qatar text "$T" draft "again"
syncall us ve obs || bail "sync after the draft"
for p in us ve obs; do
	json $p >"$out" 2>"$err" && grep -q '"latest":1' "$out" &&
		grep -q 'Ceasefire from day 1.\\nArticle 2' "$out" &&
		grep -q '"status":"drafting"' "$out"
	ok $? "$p holds text v1 (show --json)"
done
bc obs text "$T" show >"$out" 2>"$err" && grep -q '^  | Article 2. Prisoner exchange.$' "$out" &&
	grep -q 'none you can read' "$out"
ok $? "the observer's show prints the text, indented, and no comments"

# --- private comments -------------------------------------------------------------
bc us text "$T" comment "US: article 2 needs a timetable" >"$out" 2>"$err" &&
	grep -q 'commented on text v1' "$out"
ok $? "US comments on v1"
bc ve text "$T" comment --version 1 "VE: add sanctions relief" >"$out" 2>"$err"
ok $? "VE comments on v1 (--version 1)"
expect 1 'no such version' "a comment on an unknown version is refused" -- ve text "$T" comment --version 7 "x"
expect 1 'only a party' "the observer cannot comment" -- obs text "$T" comment "obs view"
expect 1 'only a party' "the mediator cannot comment" -- qatar text "$T" comment "q view"
syncall qatar us ve obs || bail "sync after the comments"
json qatar >"$out" && grep -q 'needs a timetable' "$out" && grep -q 'sanctions relief' "$out" &&
	grep -q '"from_side":"US"' "$out" && grep -q '"from_side":"VE"' "$out"
ok $? "the mediator sees both comments, with their authors"
json us >"$out" && grep -q 'needs a timetable' "$out" && ! grep -q 'sanctions' "$out"
ok $? "US sees its own comment, not VE's"
json ve >"$out" && grep -q 'sanctions relief' "$out" && ! grep -q 'timetable' "$out"
ok $? "VE sees its own comment, not US's"
json obs >"$out" && grep -q '"comments":\[\]' "$out"
ok $? "the observer sees no comment"
! bc us log "$T" | grep -q sanctions && ! bc ve log "$T" | grep -q timetable &&
	! bc obs log "$T" | grep -qE 'timetable|sanctions'
ok $? "no other party's or observer's timeline holds a comment"
bc qatar log "$T" | grep -q 'US:.*commented on text v1: US: article 2 needs a timetable'
ok $? "the mediator's log shows the comment"

# --- revise and the first round: US yes, VE no ----------------------------------------
bc qatar text "$T" revise --note "timetable added" "Article 1. Ceasefire.
Article 2. Prisoner exchange within 30 days." >"$out" 2>"$err" && grep -q 'revised the text v2' "$out"
ok $? "qatar revises: v2 with a note"
syncall us ve obs || bail "sync after v2"
json us >"$out" && grep -q '"latest":2' "$out" && grep -q 'within 30 days' "$out" &&
	grep -q '"note":"timetable added"' "$out"
ok $? "US holds v2 and its note"
bc us text "$T" show --version 1 >"$out" && grep -q 'Ceasefire from day 1' "$out" && grep -q 'superseded' "$out"
ok $? "show --version 1 still prints v1 (superseded)"
bc qatar text "$T" call >"$out" 2>"$err" && grep -q 'called the final vote on text v2' "$out"
ok $? "qatar calls the final vote on v2"
expect 1 'vote round is open' "revising while a round is open is refused" -- qatar text "$T" revise "x"
expect 1 'open already' "a second call while one is open is refused" -- qatar text "$T" call
expect 1 'only a party votes' "the mediator cannot vote" -- qatar text "$T" vote yes
expect 1 'only a party votes' "the observer cannot vote" -- obs text "$T" vote yes
expect 1 'no vote round' "US cannot vote before it has received the call" -- us text "$T" vote yes
syncall us ve obs || bail "sync after the call"
json obs >"$out" && grep -q '"status":"voting"' "$out"
ok $? "the observer sees the round open"
bc us text "$T" vote yes >"$out" 2>"$err" && grep -q 'voted yes on text v2' "$out"
ok $? "US votes yes"
expect 1 'voted in this round already' "US cannot vote twice" -- us text "$T" vote no
syncall ve || bail "ve sync"
bc ve text "$T" vote no --reason "annex too vague" >"$out" 2>"$err" && grep -q 'not adopted' "$out"
ok $? "VE votes no: not adopted"
syncall qatar us obs || bail "sync after the votes"
for p in qatar us ve obs; do
	json $p >"$out" && grep -q '"round":1,"version":2,[^]]*"state":"not adopted"' "$out" &&
		grep -q '"adopted":0' "$out" && grep -q '"reason":"annex too vague"' "$out"
	ok $? "$p: round 1 on v2 not adopted, with VE's reason"
done
expect 1 'no vote round' "voting after the round closed is refused" -- us text "$T" vote yes

# --- a second round on v2, where US votes after VE's no without knowing -------------------
bc qatar text "$T" call --version 2 >/dev/null 2>"$err"
ok $? "qatar calls v2 again (round 2)"
syncall us ve obs || bail "sync after round 2"
bc ve text "$T" vote no >/dev/null 2>"$err"
ok $? "VE votes no in round 2"
bc us text "$T" vote yes >/dev/null 2>"$err"
ok $? "US, not yet synced, votes yes in round 2"
syncall qatar us ve obs || bail "sync after round 2 votes"
for p in qatar us ve obs; do
	json $p >"$out" && grep -q '"round":2,"version":2,[^]]*"state":"not adopted"' "$out" &&
		grep -q '"status":"drafting"' "$out"
	ok $? "$p: round 2 not adopted"
done
json ve >"$out" && grep -q '"from_side":"US","vote":"yes","late":true' "$out"
ok $? "VE holds US's yes as late (not counted)"

# --- suspended talk ------------------------------------------------------------------------
bc us suspend "$T" --reason "consulting" >/dev/null 2>"$err" && syncall qatar ve obs
ok $? "US suspends the talk"
expect 1 'suspended' "revising in a suspended talk is refused" -- qatar text "$T" revise "x"
expect 1 'suspended' "commenting in a suspended talk is refused" -- ve text "$T" comment "x"
bc us resume "$T" >/dev/null 2>"$err" && syncall qatar ve obs
ok $? "US resumes the talk"
quiet qatar us ve obs
ok $? "nothing was sent while suspended"

# --- v3, round 3: both yes -> adopted -------------------------------------------------------
bc qatar text "$T" revise --note "annex made precise" "Article 1. Ceasefire.
Article 2. Prisoner exchange within 30 days.
Annex. Sanctions relief in three steps." >/dev/null 2>"$err"
ok $? "qatar revises: v3"
syncall us ve obs || bail "sync after v3"
bc qatar text "$T" call >"$out" 2>"$err" && grep -q 'v3' "$out"
ok $? "qatar calls the vote on v3 (round 3)"
syncall us ve obs || bail "sync after the call on v3"
bc us text "$T" vote yes >/dev/null 2>"$err"
ok $? "US votes yes on v3"
syncall ve || bail "ve sync"
bc ve text "$T" vote yes >"$out" 2>"$err" && grep -q 'text v3 adopted: every party said yes' "$out"
ok $? "VE votes yes on v3: adopted"
syncall qatar us obs || bail "sync after adoption"
for p in qatar us ve obs; do
	json $p >"$out" && grep -q '"status":"adopted","adopted":3' "$out" &&
		grep -q '"round":3,"version":3,[^]]*"state":"adopted"' "$out"
	ok $? "$p: text v3 adopted (show --json)"
done
bc obs text "$T" show >"$out" && grep -q 'ADOPTED' "$out"
ok $? "the observer's show marks v3 ADOPTED"
expect 1 'adopted' "revising an adopted text is refused" -- qatar text "$T" revise "x"
expect 1 'adopted' "calling a vote on an adopted text is refused" -- qatar text "$T" call
expect 1 'adopted' "commenting on an adopted text is refused" -- us text "$T" comment "late"
quiet qatar us ve obs
ok $? "the refused actions after adoption sent nothing"

# --- the timeline --------------------------------------------------------------------------
bc qatar log "$T" >"$out"
grep -q 'text .*drafted text v1 (63 bytes)' "$out" &&
	grep -q 'revised the text: v2 (.* bytes): timetable added' "$out" &&
	grep -q 'called the final vote on text v2' "$out" &&
	grep -q 'US:.*voted yes on text v2' "$out" &&
	grep -q 'VE:.*voted no on text v2: annex too vague' "$out" &&
	grep -q 'text v2 not adopted: VE said no' "$out" &&
	grep -q 'text v3 adopted: every party said yes' "$out"
ok $? "the mediator's log shows every step"
bc obs log "$T" >"$out"
grep -q 'drafted text v1' "$out" && grep -q 'text v3 adopted' "$out" && ! grep -q 'commented' "$out"
ok $? "the observer's log shows the text's steps and no comment"
bc us log "$T" --json >"$out" && grep -q '"kind":"text"' "$out"
ok $? "log --json names the events' kind 'text'"
! bc qatar log "$T" | grep -q 'integrity'
ok $? "no member was refused anything along the way (no integrity event at qatar)"
bc ve log "$T" | grep -q 'voted yes on text v2 (after the round had closed: not counted)'
ok $? "VE's log shows US's late vote as not counted"

echo "1..$n"
