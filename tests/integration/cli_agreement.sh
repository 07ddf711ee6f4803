#!/usr/bin/env bash
# cli_agreement.sh - `backchannel agreement verify` works offline, without a
# profile, and refuses every forgery. The valid export comes from the
# agreement fuzz corpus (mode byte stripped). Speaks TAP.
set -u
TOP=${BC_TOP:-.}
BIN=$TOP/${BUILD:-build}/backchannel
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bc-cli-ag.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export BACKCHANNEL_HOME=$tmp/nohome   # no profile exists there
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
refused() { # file, what
	"$BIN" agreement verify "$1" >/dev/null 2>"$tmp/err"
	[ $? -eq 3 ] && grep -q 'NOT a valid agreement' "$tmp/err"
	ok $? "$2 is refused (exit 3)"
}

tail -c +2 "$TOP/tests/fuzz/corpus/fuzz_agreement/export_valid" >"$tmp/ok.txt"
tail -c +2 "$TOP/tests/fuzz/corpus/fuzz_agreement/export_incomplete" >"$tmp/partial.txt"

"$BIN" agreement verify "$tmp/ok.txt" >"$tmp/out" 2>&1
[ $? -eq 0 ] && grep -q '^VALID agreement' "$tmp/out" && [ ! -e "$tmp/nohome/default.db" ]
ok $? "a valid agreement verifies with no profile"
"$BIN" agreement verify "$tmp/ok.txt" --json | grep -q '"valid":true'
ok $? "--json says valid"
sed 's/Now\./Later./' "$tmp/ok.txt" >"$tmp/edited.txt"
refused "$tmp/edited.txt" "an edited term in the readable text"
sz=$(wc -c <"$tmp/ok.txt")
head -c $((sz - 40)) "$tmp/ok.txt" >"$tmp/trunc.txt"
refused "$tmp/trunc.txt" "a truncated file"
# flip one character inside the armored block
awk 'BEGIN{d=0} /^bca:/ && !d {sub(/-3r1c9/,"-3r1c8"); d=1} {print}' "$tmp/ok.txt" >"$tmp/flip.txt"
cmp -s "$tmp/ok.txt" "$tmp/flip.txt" && echo "# warning: flip did not change the file"
refused "$tmp/flip.txt" "a changed character in the signed block"
refused "$tmp/partial.txt" "an agreement a party has not signed"
printf 'hello\n' >"$tmp/junk.txt"
refused "$tmp/junk.txt" "a file that is not an agreement"
"$BIN" agreement verify "$tmp/missing.txt" >/dev/null 2>&1
[ $? -eq 1 ]
ok $? "a missing file is an error, not a verdict"
# export: the signing side lives in cli_proposal.sh; here its usage
"$BIN" agreement export --help | grep -q 'usage: backchannel agreement export TALK PROPOSAL'
ok $? "agreement export --help"
"$BIN" agreement export onlyone >/dev/null 2>&1
[ $? -eq 2 ]
ok $? "agreement export with a missing argument is a usage error"
"$BIN" agreement export 0123abcd P1234 >/dev/null 2>&1
[ $? -ne 0 ] && [ ! -e "$tmp/nohome/default.db" ]
ok $? "agreement export without a profile fails and creates none"
echo "1..$n"
