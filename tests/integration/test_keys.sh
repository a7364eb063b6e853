#!/usr/bin/env bash
# Keys kept elsewhere (issue 14): `cdr enroll --csr` with a CSR that
# `openssl req` made for a key cdr never sees; user keys in a PKCS#11
# token (SoftHSM2, a token of the user's own, not the room's) for an EC
# P-256 and an RSA user, end to end (the CSR signed in the token, then
# session signatures, ECDH or RSA-OAEP unsealing, upload, query);
# passphrase-protected PEM keys without a terminal; and each refusal
# with its own code: a URI that matches no key, a PIN the token refuses
# or none given, a CSR for another key, a wrong or missing passphrase.
. "$(dirname "$0")/lib.sh"

MODULE=/usr/lib/softhsm/libsofthsm2.so
R="$T/room"
check "room init" new_room "$R" "Keys room"
start_server "$R" URL || { fail "server start"; finish; }
# Each enrolled member joins the room contract before it uses the room: a
# new version (propose_contract, lib.sh) signed by the providers so far
# and the new member, each with its own key's options.
signer() {
  case $1 in
  enc) sign_contract enc --pass "file:$T/pass.txt" </dev/null ;;
  hsm-*) SOFTHSM2_CONF="$T/uhsm/softhsm2.conf" sign_contract "$1" --pin "file:$T/upin" </dev/null ;;
  *) sign_contract "$1" ;;
  esac
}
version_with() {
  local p
  propose_contract "$R" || return 1
  for p in "$@"; do signer "$p" || return 1; done
  grep -q "now active" "$T/contract.sign" || { cat "$T/contract.sign"; return 1; }
}

bash "$CDR_SOURCE_DIR/scripts/gen-patients.sh" 50 3 >"$T/p.csv"

# ---- enroll --csr with a key made by openssl --------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ext.key" 2>/dev/null
openssl req -new -key "$T/ext.key" -subj "/CN=ext@example.org" -out "$T/ext.csr" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other.key" 2>/dev/null
TOK=$(invite "$R" provider "ext@example.org")
expect_error "a CSR for another key than --key is refused" csr_key_mismatch \
  "$CDR" enroll "$URL" --csr "$T/ext.csr" --key "$T/other.key" --token "$TOK" --out "$T/ext.crt"
[ ! -e "$T/ext.crt" ] && pass "nothing saved after the mismatch" || fail "nothing saved after the mismatch"
openssl req -new -key "$T/ext.key" -subj "/CN=mallory@example.org" -out "$T/wrongname.csr" 2>/dev/null
expect_error "a CSR for another name than the token's is refused" csr_subject_mismatch \
  "$CDR" enroll "$URL" --csr "$T/wrongname.csr" --key "$T/ext.key" --token "$TOK" --out "$T/ext.crt"
echo "not a csr" >"$T/junk.csr"
expect_error "a file that is not a CSR is refused" "not a PKCS#10" \
  "$CDR" enroll "$URL" --csr "$T/junk.csr" --key "$T/ext.key" --token "$TOK" --out "$T/ext.crt"
# The key is not where the profile will look yet (it is moved there later).
mkdir -p "$T/later"
check "enroll --csr made by openssl req (the token was not spent by the refusals)" \
  "$CDR" enroll "$URL" --csr "$T/ext.csr" --key "$T/later/ext.key" --token "$TOK" --out "$T/ext.crt" --profile ext
grep -q "does not exist yet" "$T/err" && pass "enroll notes that the key is not there yet" \
  || fail "enroll notes that the key is not there yet: $(cat "$T/err")"
expect_eq "the certificate certifies the openssl key" \
  "$(openssl x509 -in "$T/ext.crt" -noout -pubkey)" "$(openssl pkey -in "$T/ext.key" -pubout)"
jq -r .key "$CDR_CONFIG_DIR/profiles/ext.json" 2>/dev/null | grep -qx "$T/later/ext.key" \
  && pass "the profile keeps the key path given" || fail "the profile keeps the key path given"
expect_error "the profile needs the key where --key said" "no such file" \
  "$CDR" query --profile ext "SELECT 1"
mv "$T/ext.key" "$T/later/ext.key"
check "ext signs contract version 1" version_with ext
check "upload through the --csr profile once the key is there" "$CDR" upload --profile ext ext_t "$T/p.csv"
check "query through the --csr profile" "$CDR" query --profile ext "SELECT count(*) FROM ext_t" --format csv
expect_eq "the --csr user reads its result" "$(tail -n 1 "$T/out" | tr -d '\r')" "50"

# ---- passphrase-protected PEM keys, without a terminal -----------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass pass:'s3cret phrase' \
  -out "$T/enc.key" 2>/dev/null
grep -q "ENCRYPTED PRIVATE KEY" "$T/enc.key" && pass "the key file is encrypted" || fail "the key file is encrypted"
printf 's3cret phrase\n' >"$T/pass.txt"
TOK=$(invite "$R" provider "enc@example.org")
# setsid: no controlling terminal either, where OpenSSL's default
# callback would prompt (/dev/tty) and wait.
expect_error "an encrypted key without --pass fails at once (no terminal)" key_passphrase_needed \
  setsid -w "$CDR" enroll "$URL" --key "$T/enc.key" --token "$TOK" --out "$T/enc.crt" </dev/null
WRONG='not the phrase' expect_error "a wrong passphrase is its own error" key_passphrase_wrong \
  "$CDR" enroll "$URL" --key "$T/enc.key" --pass env:WRONG --token "$TOK" --out "$T/enc.crt" </dev/null
expect_error "an unset --pass variable is its own error" secret_source_invalid \
  "$CDR" enroll "$URL" --key "$T/enc.key" --pass env:CDR_TEST_NO_SUCH_VAR --token "$TOK" --out "$T/enc.crt"
KEYPASS='s3cret phrase' check "enroll with --pass env:VAR (no terminal)" \
  setsid -w "$CDR" enroll "$URL" --key "$T/enc.key" --pass env:KEYPASS --token "$TOK" --out "$T/enc.crt" --profile enc </dev/null
check "a version with enc, signed by ext and enc" version_with ext enc
check "upload with --pass file:PATH" "$CDR" upload --profile enc --pass "file:$T/pass.txt" enc_t "$T/p.csv" </dev/null
check "query with --pass file:PATH" "$CDR" query --profile enc --pass "file:$T/pass.txt" \
  "SELECT count(*) FROM enc_t" --format csv </dev/null
expect_eq "the passphrase user reads its result" "$(tail -n 1 "$T/out" | tr -d '\r')" "50"
expect_error "a query without --pass names the missing passphrase" key_passphrase_needed \
  "$CDR" query --profile enc "SELECT 1" </dev/null
grep -rq "s3cret" "$CDR_CONFIG_DIR" "$T/server.log" && fail "the passphrase is in a profile or the log" \
  || pass "the passphrase is in no profile and not in the log"

# ---- user keys in a PKCS#11 token (SoftHSM2) ---------------------------------
# The user's own token, in its own SoftHSM2 store: only the user's
# commands see it (the room's token is the server's business).
mkdir -p "$T/uhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/uhsm/tokens" \
  >"$T/uhsm/softhsm2.conf"
ucdr() { SOFTHSM2_CONF="$T/uhsm/softhsm2.conf" "$CDR" "$@"; }
uhsm() { SOFTHSM2_CONF="$T/uhsm/softhsm2.conf" "$@"; }
export UPIN=246810
printf '%s\n' "$UPIN" >"$T/upin"
uhsm softhsm2-util --init-token --free --label cdr-user --so-pin 97531864 --pin "$UPIN" >/dev/null \
  && pass "user token made" || fail "user token made"
uhsm pkcs11-tool --module "$MODULE" --token-label cdr-user --login --pin "$UPIN" --keypairgen \
  --key-type EC:prime256v1 --id 01 --label ec-user >/dev/null 2>&1 && pass "EC P-256 key made in the token" \
  || fail "EC P-256 key made in the token"
uhsm pkcs11-tool --module "$MODULE" --token-label cdr-user --login --pin "$UPIN" --keypairgen \
  --key-type rsa:2048 --id 02 --label rsa-user >/dev/null 2>&1 && pass "RSA 2048 key made in the token" \
  || fail "RSA 2048 key made in the token"
ECURI="pkcs11:token=cdr-user;object=ec-user;type=private?module-path=$MODULE"
RSAURI="pkcs11:token=cdr-user;object=rsa-user;type=private?module-path=$MODULE"

# Refusals first (no token is spent by them).
TOK=$(invite "$R" provider "hsm-ec@example.org")
expect_error "a pkcs11 URI that matches no key" pkcs11_key_not_found \
  ucdr enroll "$URL" --key "pkcs11:token=cdr-user;object=nothing;type=private?module-path=$MODULE" \
  --pin env:UPIN --token "$TOK" --out "$T/hsm-ec.crt"
BADPIN=111111 expect_error "a PIN the token refuses" pkcs11_pin_refused \
  ucdr enroll "$URL" --key "$ECURI" --pin env:BADPIN --token "$TOK" --out "$T/hsm-ec.crt" </dev/null
expect_error "no PIN: its own error at once, no prompt (no terminal)" pkcs11_pin_needed \
  setsid -w env SOFTHSM2_CONF="$T/uhsm/softhsm2.conf" "$CDR" enroll "$URL" --key "$ECURI" --token "$TOK" --out "$T/hsm-ec.crt" </dev/null
grep -q "111111" "$T/err" && fail "the refused PIN is printed" || pass "the refused PIN is not printed"
expect_error "a --pin file that does not exist is its own error" secret_source_invalid \
  ucdr enroll "$URL" --key "$ECURI" --pin "file:$T/no-such-pin" --token "$TOK" --out "$T/hsm-ec.crt" </dev/null
expect_error "a module that cannot be loaded is its own error" pkcs11_unavailable \
  ucdr enroll "$URL" --key "pkcs11:token=cdr-user;object=ec-user?module-path=$T/no-such-module.so&pin-value=975310" \
  --token "$TOK" --out "$T/hsm-ec.crt" </dev/null
grep -q "975310" "$T/err" && fail "a pin-value is printed" || pass "a pin-value in the URI is not printed"

# EC user: cdr makes the CSR, signed in the token.
check "EC user in the token enrolls (CSR signed by the token)" \
  ucdr enroll "$URL" --key "$ECURI" --pin env:UPIN --token "$TOK" --out "$T/hsm-ec.crt" --profile hsm-ec </dev/null
check "a version with hsm-ec" version_with ext enc hsm-ec
uhsm pkcs11-tool --module "$MODULE" --token-label cdr-user --read-object --type pubkey --id 01 \
  -o "$T/ec.pub.der" >/dev/null 2>&1
expect_eq "the certificate certifies the token's EC key" \
  "$(openssl x509 -in "$T/hsm-ec.crt" -noout -pubkey)" "$(openssl pkey -pubin -inform DER -in "$T/ec.pub.der")"
check "EC token user uploads (session signature and ECDH in the token)" \
  ucdr upload --profile hsm-ec --pin "file:$T/upin" ec_t "$T/p.csv" </dev/null
check "EC token user queries" ucdr query --profile hsm-ec --pin "file:$T/upin" \
  "SELECT count(*) AS n, sum(age) AS s FROM ec_t" --format csv </dev/null
WANT=$(tail -n +2 "$T/p.csv" | awk -F, '{ s += $2 } END { printf "50,%d", s }')
expect_eq "EC token user reads its result" "$(tail -n 1 "$T/out" | tr -d '\r')" "$WANT"

# RSA user: the CSR is made by openssl req through libp11's engine, in
# the token; cdr enroll --csr needs no PIN for it (only the public key).
TOK=$(invite "$R" provider "hsm-rsa@example.org")
uhsm env PKCS11_MODULE_PATH="$MODULE" openssl req -new -engine pkcs11 -keyform engine \
  -key "pkcs11:token=cdr-user;object=rsa-user;type=private?pin-value=$UPIN" -subj "/CN=hsm-rsa@example.org" \
  -sha256 -out "$T/hsm-rsa.csr" >/dev/null 2>&1 && pass "openssl req signs the RSA CSR in the token" \
  || fail "openssl req signs the RSA CSR in the token"
expect_error "a CSR for another key than the token key" csr_key_mismatch \
  ucdr enroll "$URL" --csr "$T/ext.csr" --key "$RSAURI" --token "$TOK" --out "$T/hsm-rsa.crt"
check "RSA user in the token enrolls with --csr and --key pkcs11:" \
  ucdr enroll "$URL" --csr "$T/hsm-rsa.csr" --key "$RSAURI&pin-value=$UPIN" --token "$TOK" \
  --out "$T/hsm-rsa.crt" --profile hsm-rsa </dev/null
check "a version with hsm-rsa" version_with ext enc hsm-ec hsm-rsa
grep -q "$UPIN" "$CDR_CONFIG_DIR/profiles/hsm-rsa.json" && fail "the profile holds the pin-value" \
  || pass "the profile keeps the URI without its pin-value"
expect_error "the RSA profile without a PIN needs one" pkcs11_pin_needed \
  ucdr query --profile hsm-rsa "SELECT 1" </dev/null
check "RSA token user uploads (PSS signatures and RSA-OAEP in the token)" \
  ucdr upload --profile hsm-rsa --pin "file:$T/upin" rsa_t "$T/p.csv" </dev/null
check "RSA token user queries" ucdr query --profile hsm-rsa --pin "file:$T/upin" \
  "SELECT count(*) AS n, sum(age) AS s FROM rsa_t" --format csv </dev/null
expect_eq "RSA token user reads its result" "$(tail -n 1 "$T/out" | tr -d '\r')" "$WANT"
check "the URI's pin-source works as --pin does" \
  ucdr tables --profile hsm-rsa --key "$RSAURI&pin-source=file:$T/upin" </dev/null
grep -q "rsa_t" "$T/out" && pass "tables through pin-source lists the table" || fail "tables through pin-source"

# An RSA 3072 key in the token, with the CSR made by cdr in the token
# (PKCS#1 v1.5 there, PSS and OAEP afterwards).
uhsm pkcs11-tool --module "$MODULE" --token-label cdr-user --login --pin "$UPIN" --keypairgen \
  --key-type rsa:3072 --id 03 --label rsa3-user >/dev/null 2>&1 && pass "RSA 3072 key made in the token" \
  || fail "RSA 3072 key made in the token"
TOK=$(invite "$R" analyst "hsm-rsa3@example.org")
check "RSA 3072 user in the token enrolls (CSR signed by the token)" \
  ucdr enroll "$URL" --key "pkcs11:token=cdr-user;object=rsa3-user;type=private?module-path=$MODULE" \
  --pin env:UPIN --token "$TOK" --out "$T/hsm-rsa3.crt" --profile hsm-rsa3 </dev/null
check "a version with hsm-rsa3" version_with ext enc hsm-ec hsm-rsa hsm-rsa3
check "the RSA provider grants analysts its table" ucdr grant --profile hsm-rsa --pin env:UPIN rsa_t --to role:analyst
check "RSA 3072 token analyst queries the granted table" ucdr query --profile hsm-rsa3 --pin env:UPIN \
  "SELECT count(*) AS n, sum(age) AS s FROM rsa_t" --format csv </dev/null
expect_eq "RSA 3072 token analyst reads the result" "$(tail -n 1 "$T/out" | tr -d '\r')" "$WANT"
grep -q "$UPIN" "$T/server.log" && fail "the PIN is in the server log" || pass "the PIN is not in the server log"

finish
