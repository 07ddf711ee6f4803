#!/usr/bin/env bash
# examples/qatar.sh - the case of docs/DESIGN §1, played end to end on a
# local relay: Qatar mediates between the United States and Venezuela,
# who will not talk directly. `make demo` runs it.
#
# Caucus statements under disclosure labels and Qatar passing them on
# under those labels; an offer that the Venezuelan leader step down within
# two years, rejected; a double-blind question about a leader-level
# meeting that ends in "no match"; Venezuela halting all outreach and
# resuming; detainees exchanged for repatriation flights by commit-reveal
# with sequenced, confirmed steps; the exchange agreement signed by both
# parties, exported and verified offline. It ends with each member's view
# side by side: who saw what.
. "$(dirname "$0")/lib.sh"

step "A relay on 127.0.0.1 (it stores and forwards only ciphertext)"
start_relay
note "relay address, pinned by every client: $ADDR"
for p in qatar us ve; do quiet $p init --unprotected >/dev/null; done
note "three profiles: qatar (mediator), us and ve (parties); each has its own identity"

step "Qatar opens the talk and invites both sides (one-time, checksummed invites)"
TALK=$(quiet qatar talk new --relay "$ADDR" --title "Detainees and repatriation flights" \
	--rules "Nothing said here is quoted in public. Either side may halt the talks.")
note "talk $TALK"
INV_US=$(quiet qatar invite "$TALK" --role party --side US)
INV_VE=$(quiet qatar invite "$TALK" --role party --side VE)
note "each invite goes to its side out of band: ${INV_US:0:24}..."
as us join --accept-rules "$INV_US"
as ve join --accept-rules "$INV_VE"
syncall qatar us ve
as us talk show "$TALK"

step "The US checks it is really talking to Qatar (safety number, read over a trusted line)"
QATAR_ID=$(quiet qatar identity --json | sed -n 's/.*"identity":"\([^"]*\)".*/\1/p')
as us verify "$QATAR_ID"

step "Caucus: each side speaks to the mediator only, under a disclosure label"
as us say "$TALK" --caucus --label paraphrase \
	"We could release ten Venezuelan detainees if deportation flights resume."
as ve say "$TALK" --caucus --label verbatim \
	"Venezuela will accept two repatriation flights a week."
as ve say "$TALK" --caucus --label private \
	"Our real worry is the oil licence; do not pass this on."
syncall qatar
SID_US=$(quiet qatar log "$TALK" | grep 'ten Venezuelan' | grep -o '#[0-9a-f]\{8\}' | head -n1)
SID_VE=$(quiet qatar log "$TALK" | grep 'two repatriation' | grep -o '#[0-9a-f]\{8\}' | head -n1)
SID_PRIV=$(quiet qatar log "$TALK" | grep 'oil licence' | grep -o '#[0-9a-f]\{8\}' | head -n1)

step "Qatar passes statements on, and the label is enforced"
as qatar relay "$TALK" "$SID_US" --as paraphrase --to VE \
	"The other side is open to releasing detainees if flights resume."
as qatar relay "$TALK" "$SID_VE" --as verbatim --to US \
	"Venezuela will accept two repatriation flights a week."
note "a private statement cannot be passed on:"
refused qatar relay "$TALK" "$SID_PRIV" --as paraphrase --to US "They care about oil."
note "a paraphrase may not go out attributed:"
refused qatar relay "$TALK" "$SID_US" --as attributed --to VE \
	"We could release ten Venezuelan detainees if deportation flights resume."
syncall us ve
as qatar say "$TALK" --plenary "Both sides have signalled an exchange of detainees for flights. Let us work on it."
syncall us ve

step "An offer on the table: the US proposes that the leader step down within two years"
P_STEP=$(quiet us propose "$TALK" --expires 7d \
	--term "leader=The President of Venezuela steps down within two years" \
	--term "elections=Free presidential elections under international observation in 2027")
note "proposal $P_STEP"
syncall qatar ve
as ve reject "$TALK" "$P_STEP" --reason "The presidency is not on the table."
syncall qatar us
as us proposals "$TALK"

step "A double-blind question: would each side accept a leader-level meeting?"
Q=$(quiet qatar ask "$TALK" "Would you accept a meeting of the two presidents in Doha within 90 days?")
note "question $Q, asked of each side privately"
syncall us ve
as us answer "$TALK" "$Q" yes
as ve answer "$TALK" "$Q" no
syncall qatar us ve
note "neither side learns who said no, only that there is no match:"
as us answer "$TALK" --list
as ve answer "$TALK" --list

step "Venezuela halts all outreach; the US cannot speak until the talk resumes"
as ve suspend "$TALK" --reason "Halting all outreach after the new sanctions"
syncall qatar us
refused us say "$TALK" --caucus "Are you still there?"
as ve resume "$TALK" --reason "A channel still exists"
syncall qatar us

step "The exchange by commit-reveal: each side commits to its step before seeing the other's"
as us exchange "$TALK" commit "Release ten Venezuelan detainees to Qatari custody"
as ve exchange "$TALK" commit "Accept two US repatriation flights a week, starting within 30 days"
syncall qatar us ve
note "both committed; neither has seen the other's offer. Now both reveal:"
as us exchange "$TALK" reveal
as ve exchange "$TALK" reveal
syncall qatar us ve
as us exchange "$TALK" show

step "The exchange agreement, accepted by both sides as one whole version"
P_X=$(quiet qatar propose "$TALK" \
	--term "detainees=The United States releases ten Venezuelan detainees to Qatari custody" \
	--term "flights=Venezuela accepts two repatriation flights a week from the United States" \
	--term "sequence=Detainees first; the first flight within 30 days of their release")
note "Qatar proposes $P_X"
syncall us ve
note "Venezuela counters with a new whole version: 45 days instead of 30"
as ve counter "$TALK" "$P_X" \
	--term "detainees=The United States releases ten Venezuelan detainees to Qatari custody" \
	--term "flights=Venezuela accepts two repatriation flights a week from the United States" \
	--term "sequence=Detainees first; the first flight within 45 days of their release"
syncall qatar us
as us accept "$TALK" "$P_X"
syncall qatar ve
as ve accept "$TALK" "$P_X"
note "each party's client signs the agreed version and sends its signature:"
syncall qatar us ve qatar
as qatar proposals "$TALK"

step "Export the signed agreement, and verify it offline with no profile at all"
quiet us agreement export "$TALK" "$P_X" -o "$work/agreement.txt"
note "$(wc -c <"$work/agreement.txt") bytes, self-contained: text, parties, signatures"
mkdir -p "$work/nobody"
BACKCHANNEL_HOME=$work/nobody "$BIN" agreement verify "$work/agreement.txt" | sed 's/^/      /'
sed 's/flights a week/flights a month/' "$work/agreement.txt" >"$work/tampered.txt"
note "the same file with one word changed:"
if BACKCHANNEL_HOME=$work/nobody "$BIN" agreement verify "$work/tampered.txt" 2>&1 | sed 's/^/      /'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
	echo "UNEXPECTED: a tampered agreement verified" >&2; exit 1
fi

step "The steps, in order, each confirmed by the side that receives it"
as qatar exchange "$TALK" steps \
	--step "US: release the ten detainees to Qatari custody" \
	--step "VE: receive the first repatriation flight"
syncall us ve
refused ve exchange "$TALK" done 2 --note "flight landed"
as us exchange "$TALK" done 1 --note "ten detainees handed over in Doha"
syncall qatar ve
as ve exchange "$TALK" confirm 1
syncall qatar us
as ve exchange "$TALK" done 2 --note "first flight landed in Maiquetia"
syncall qatar us
as us exchange "$TALK" confirm 2
syncall qatar us ve

step "Who saw what: each member's timeline, side by side"
side_by_side "$TALK" qatar us ve
echo
note "Qatar never saw what the sides said to each other directly, the US never saw"
note "Venezuela's caucus, and the relay saw none of it: only sealed, padded ciphertext."
