#!/usr/bin/env bash
# cli_identity.sh - the profile commands of the CLI: init, identity, verify,
# passphrase handling and refusals. Speaks TAP.
set -u
BIN=${BC_TOP:-.}/${BUILD:-build}/backchannel
home=$(mktemp -d "${TMPDIR:-/tmp}/bc-cli-id.XXXXXX")
trap 'rm -rf "$home"' EXIT
export BACKCHANNEL_HOME=$home
unset BACKCHANNEL_PASSPHRASE BACKCHANNEL_PROFILE
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

"$BIN" --profile a init --unprotected >"$home/a.out" 2>&1
ok $? "init --unprotected creates a profile"
grep -q '^fingerprint ' "$home/a.out" && grep -q 'WITHOUT a passphrase' "$home/a.out"
ok $? "init prints the fingerprint and warns about the unprotected mode"
"$BIN" --profile a init --unprotected >/dev/null 2>"$home/err"
[ $? -ne 0 ] && grep -q 'exists already' "$home/err"
ok $? "init refuses to overwrite a profile"
[ "$(stat -c %a "$home/a.db")" = 600 ] && [ "$(stat -c %a "$home")" = 700 ]
ok $? "store 0600 in a 0700 directory"

BACKCHANNEL_PASSPHRASE='correct horse' "$BIN" --profile b init >/dev/null 2>&1
ok $? "init with BACKCHANNEL_PASSPHRASE"
BACKCHANNEL_PASSPHRASE='wrong horse' "$BIN" --profile b identity >/dev/null 2>"$home/err"
st=$?
[ $st -eq 3 ] && grep -q 'wrong passphrase' "$home/err"
ok $? "a wrong passphrase fails cleanly (exit 3)"
"$BIN" --profile b identity </dev/null >/dev/null 2>"$home/err"
[ $? -ne 0 ] && grep -q 'BACKCHANNEL_PASSPHRASE' "$home/err"
ok $? "no passphrase and no terminal: says what to do"

ida=$("$BIN" --profile a identity --json | sed -n 's/.*"identity":"\([^"]*\)".*/\1/p')
idb=$(BACKCHANNEL_PASSPHRASE='correct horse' "$BIN" --profile b identity --json | sed -n 's/.*"identity":"\([^"]*\)".*/\1/p')
[ -n "$ida" ] && [ -n "$idb" ]
ok $? "identity --json gives the public identity"
sab=$("$BIN" --profile a verify "$idb" --json | sed -n 's/.*"safety_number":"\([^"]*\)".*/\1/p')
sba=$(BACKCHANNEL_PASSPHRASE='correct horse' "$BIN" --profile b verify "$ida" --json | sed -n 's/.*"safety_number":"\([^"]*\)".*/\1/p')
[ -n "$sab" ] && [ "$sab" = "$sba" ] && [ "$(echo "$sab" | tr -dc 0-9 | wc -c)" = 60 ]
ok $? "both sides compute the same 60-digit safety number"

# a typo in the identity string is caught by its checksum
typo=$(echo "$idb" | sed 's/\(bcid:...\)./\1x/')
[ "$typo" != "$idb" ] || typo=$(echo "$idb" | sed 's/\(bcid:...\)./\1y/')
"$BIN" --profile a verify "$typo" >/dev/null 2>"$home/err"
[ $? -eq 3 ] && grep -q 'typo' "$home/err"
ok $? "a mistyped identity is refused (exit 3)"
"$BIN" --profile nosuch identity >/dev/null 2>"$home/err"
[ $? -ne 0 ] && grep -q "backchannel init" "$home/err"
ok $? "an unknown profile says how to create it"
chmod 0644 "$home/a.db"
"$BIN" --profile a identity >/dev/null 2>"$home/err"
[ $? -ne 0 ]
ok $? "a store with loose permissions is refused"
chmod 0600 "$home/a.db"
"$BIN" --profile 'bad/name' identity >/dev/null 2>&1
[ $? -ne 0 ]
ok $? "a bad profile name is refused"
echo "1..$n"
