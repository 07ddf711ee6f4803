#!/usr/bin/env bash
# examples/commercial.sh - a shorter scenario of another kind: a commercial
# mediation between a supplier (Acme Foods) and a retailer (Northmart)
# over late deliveries and unpaid invoices, with a mediator. It uses the
# single negotiating text (the mediator drafts, the parties comment
# privately, a final yes/no round), a double-blind question that ends in a
# match, and a signed payment plan exported and verified offline.
. "$(dirname "$0")/lib.sh"

step "A relay, a mediator and two companies"
start_relay
for p in mediator acme northmart; do quiet $p init --unprotected >/dev/null; done
TALK=$(quiet mediator talk new --relay "$ADDR" --title "Acme / Northmart supply dispute" \
	--rules "Without prejudice. Nothing here is admissible in court.")
INV_ACME=$(quiet mediator invite "$TALK" --role party --side Acme)
INV_NORTH=$(quiet mediator invite "$TALK" --role party --side Northmart)
as acme join --accept-rules "$INV_ACME"
as northmart join --accept-rules "$INV_NORTH"
syncall mediator acme northmart

step "Caucus: what each side tells the mediator alone"
as acme say "$TALK" --caucus --label private "We can absorb a 5% discount, no more."
as northmart say "$TALK" --caucus --label paraphrase \
	"We would pay the open invoices if deliveries were reliable."
syncall mediator

step "A double-blind question: is binding arbitration acceptable as a fallback?"
Q=$(quiet mediator ask "$TALK" "Would you accept binding arbitration if this mediation fails?")
syncall acme northmart
as acme answer "$TALK" "$Q" yes
as northmart answer "$TALK" "$Q" yes
syncall mediator acme northmart
as acme answer "$TALK" --list

step "The single negotiating text: the mediator drafts, the parties comment privately"
as mediator text "$TALK" draft --note "first draft" \
	"1. Acme delivers weekly, on Mondays. 2. Northmart pays open invoices within 60 days."
syncall acme northmart
as acme text "$TALK" comment "Payment within 30 days, not 60."
as northmart text "$TALK" comment "We need a penalty for late deliveries."
syncall mediator
as mediator text "$TALK" revise --note "payment 45 days; late-delivery credit" \
	"1. Acme delivers weekly, on Mondays. 2. Northmart pays open invoices within 45 days. 3. Each late delivery earns Northmart a 2% credit."
as mediator text "$TALK" call
syncall acme northmart
as acme text "$TALK" vote yes
as northmart text "$TALK" vote yes
syncall mediator acme northmart
as northmart text "$TALK" show

step "The payment plan as a proposal, accepted, signed by both, verified offline"
P=$(quiet mediator propose "$TALK" \
	--term "invoices=Northmart pays the open invoices (EUR 1.2M) within 45 days" \
	--term "deliveries=Acme delivers weekly on Mondays; each late delivery earns a 2% credit")
syncall acme northmart
as acme accept "$TALK" "$P"
syncall northmart
as northmart accept "$TALK" "$P"
syncall mediator acme northmart acme
quiet acme agreement export "$TALK" "$P" -o "$work/plan.txt"
mkdir -p "$work/nobody"
BACKCHANNEL_HOME=$work/nobody "$BIN" agreement verify "$work/plan.txt" | sed 's/^/      /'

step "Who saw what"
side_by_side "$TALK" mediator acme northmart
