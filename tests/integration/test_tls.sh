#!/usr/bin/env bash
# TLS on the wire and the one-line invitation (PROTOCOL 2.1, 4.4.1):
#   - cdrd serves HTTPS with a certificate the room CA issued: curl with
#     the room CA succeeds, with another CA fails on the certificate;
#     plain HTTP to it gets no answer; TLS 1.1 and a CBC cipher are
#     refused;
#   - cdr pinned to the room CA succeeds; a profile pinned to another CA
#     than the server's fails with tls_verify_failed; http:// to a
#     non-loopback host is refused (insecure_url);
#   - --insecure-http only on loopback; --tls-cert/--tls-key serve the
#     operator's own certificate (cdr enroll --cacert);
#   - a connection that sends nothing is closed by the reaper without a
#     plaintext 408 on the TLS socket;
#   - the bundle of `cdr room invite --url` enrolls a member with
#     `cdr enroll BUNDLE --key K` alone (parsed here independently, by
#     PROTOCOL 4.4.1); a bundle with another CA, or a CA that does not
#     match its hash, is refused; the measurement it carried is required
#     later.
. "$(dirname "$0")/lib.sh"

R="$T/room"; R2="$T/room2"
new_room "$R" "tls room" && new_room "$R2" "other room" || { fail "room init"; finish; }
start_server "$R" URL || { fail "server start"; finish; }
start_server "$R2" URL2 || { fail "second server start"; finish; }
unset CURL_CA_BUNDLE # every trust below is explicit
case $URL in https://127.0.0.1:*) pass "cdrd serves https by default ($URL)" ;; *) fail "URL $URL" ;; esac
PORT=${URL##*:}

# ---- the server certificate ----
openssl x509 -in "$R/tls/server.crt" -noout -ext subjectAltName,extendedKeyUsage >"$T/ext" 2>&1
grep -q "IP Address:127.0.0.1" "$T/ext" && grep -q "TLS Web Server Authentication" "$T/ext" \
  && pass "the certificate names 127.0.0.1 and is for serverAuth" || fail "certificate extensions: $(cat "$T/ext")"
openssl verify -CAfile "$R/ca.crt" "$R/tls/server.crt" >/dev/null 2>&1 \
  && pass "the room CA issued the server certificate" || fail "server certificate does not chain to the room CA"
expect_eq "the TLS key file is private (0600)" "$(stat -c %a "$R/tls/server.key")" "600"
openssl pkey -in "$R/tls/server.key" -pubout 2>/dev/null | diff -q - <(openssl x509 -in "$R/ca.crt" -noout -pubkey) >/dev/null \
  && fail "the TLS key is the CA key" || pass "the TLS key is not the CA's"

# ---- curl ----
check "curl with --cacert the room CA succeeds" curl -sS --cacert "$R/ca.crt" "$URL/v1/health"
grep -q '"status":"ok"' "$T/out" && pass "health answered over TLS" || fail "health body: $(cat "$T/out")"
curl -sS --cacert "$R2/ca.crt" "$URL/v1/health" >"$T/out" 2>"$T/err"
expect_eq "curl with another room's CA fails on the certificate (exit 60)" "$?" "60"
curl -sS "http://127.0.0.1:$PORT/v1/health" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -ne 0 ] && ! grep -q status "$T/out" && pass "plain HTTP to the TLS server gets no answer (curl exit $rc)" \
  || fail "plain HTTP answered: $(cat "$T/out")"
curl -sS --cacert "$R/ca.crt" --tls-max 1.1 "$URL/v1/health" >"$T/out" 2>"$T/err"
expect_eq "TLS 1.1 is refused (curl exit 35)" "$?" "35"
echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA -CAfile "$R/ca.crt" \
  >"$T/out" 2>&1
grep -q "Cipher is (NONE)\|handshake failure\|no cipher" "$T/out" && pass "a CBC cipher suite is refused" \
  || fail "CBC cipher: $(grep -i cipher "$T/out" | head -2)"
echo | openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$R/ca.crt" >"$T/out" 2>&1
grep -q "Verify return code: 0" "$T/out" && grep -q "TLSv1.3" "$T/out" \
  && pass "TLS 1.3 verifies with openssl s_client and the room CA" || fail "s_client: $(tail -5 "$T/out")"

# ---- cdr: pinned to the room CA ----
# (`cdr contract` is a full connection: TLS, attestation, a session; the
# room has no active contract here, so it is what the room serves.)
user ana analyst "$R" "$URL" && pass "explicit enroll (URL + token) over TLS, CA checked against the token" \
  || fail "enroll ana"
check "cdr pinned to the room CA (profile) succeeds" "$CDR" contract --profile ana
mkdir -p "$T/empty"
expect_error "cdr pinned to another CA than the server's fails" tls_verify_failed \
  env CDR_CONFIG_DIR="$T/empty" "$CDR" attest "$URL" --ca "$R2/ca.crt"
sed "s|\"url\": \"[^\"]*\"|\"url\": \"$URL2\"|" "$T/config/profiles/ana.json" >"$T/config/profiles/ana-moved.json"
chmod 600 "$T/config/profiles/ana-moved.json"
expect_error "a profile whose CA is not the server's fails with the TLS error" tls_verify_failed \
  "$CDR" contract --profile ana-moved
grep -q "certificate" "$T/err" && pass "the TLS error carries curl's reason" || fail "no reason: $(cat "$T/err")"
expect_error "cdr refuses http:// to a non-loopback host" insecure_url "$CDR" attest http://192.0.2.1:8443
"$CDR" keygen "$T/eve.key" >/dev/null 2>&1
expect_error "explicit enroll against the wrong room's server stops before sending" ca_mismatch \
  "$CDR" enroll "$URL2" --key "$T/eve.key" --token "$(invite "$R" analyst eve)" --out "$T/eve.crt"
[ ! -e "$T/eve.crt" ] && pass "nothing saved" || fail "eve.crt written"

# ---- --insecure-http: loopback only ----
"$CDR" serve "$R2" --listen 0.0.0.0:0 --insecure-http >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "insecure-http is refused on 0.0.0.0" "$T/err" \
  && pass "--insecure-http on 0.0.0.0 is refused, naming the address" || fail "rc $rc: $(cat "$T/err")"
"$CDR" serve "$R2" --listen 0.0.0.0:0 >"$T/out" 2>"$T/err"
[ "$?" -eq 2 ] && grep -q -- "--tls-name" "$T/err" && pass "a wildcard address asks for --tls-name" \
  || fail "wildcard without names: $(cat "$T/err")"

# ---- the operator's own certificate ----
R3="$T/room3"
new_room "$R3" "own cert room" || fail "room3 init"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/own-ca.key" -out "$T/own-ca.crt" \
  -days 30 -subj "/CN=operator CA" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/own.key" -out "$T/own.csr" \
  -subj "/CN=127.0.0.1" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$T/own.ext"
openssl x509 -req -in "$T/own.csr" -CA "$T/own-ca.crt" -CAkey "$T/own-ca.key" -CAcreateserial -days 30 \
  -extfile "$T/own.ext" -out "$T/own.crt" >/dev/null 2>&1
SERVE_ARGS=(--tls-cert "$T/own.crt" --tls-key "$T/own.key")
start_server "$R3" URL3 || fail "server with --tls-cert"
SERVE_ARGS=()
unset CURL_CA_BUNDLE
check "--tls-cert: curl with the operator's CA succeeds" curl -sS --cacert "$T/own-ca.crt" "$URL3/v1/health"
[ ! -e "$R3/tls/server.crt" ] && pass "--tls-cert: the room CA issued nothing" || fail "room3 has tls/server.crt"
"$CDR" keygen "$T/olga.key" >/dev/null 2>&1
check "--tls-cert: enroll with --cacert" "$CDR" enroll "$URL3" --key "$T/olga.key" \
  --token "$(invite "$R3" analyst olga)" --cacert "$T/own-ca.crt" --profile olga
grep -q '"tls_cacert"' "$T/config/profiles/olga.json" && pass "the profile keeps tls_cacert" || fail "no tls_cacert"
check "--tls-cert: later commands trust the profile's tls_cacert" "$CDR" contract --profile olga
"$CDR" keygen "$T/oleg.key" >/dev/null 2>&1
expect_error "--tls-cert: enroll without --cacert fails on the certificate" tls_verify_failed \
  "$CDR" enroll "$URL3" --key "$T/oleg.key" --token "$(invite "$R3" analyst oleg)" --profile oleg
printf 'not a key\n' >"$T/bad.key"
new_room "$T/room4" "bad key room" || fail "room4 init"
"$CDR" serve "$T/room4" --listen 127.0.0.1:0 --tls-cert "$T/own.crt" --tls-key "$T/bad.key" >"$T/out" 2>"$T/err"
[ "$?" -ne 0 ] && grep -q "not an unencrypted PEM private key" "$T/err" && pass "a bad --tls-key is refused clearly" \
  || fail "bad key: $(tail -3 "$T/err")"

# ---- renewal: at a start, and warned about before ----
openssl x509 -req -in "$T/own.csr" -CA "$T/own-ca.crt" -CAkey "$T/own-ca.key" -CAcreateserial -days 5 \
  -extfile "$T/own.ext" -out "$T/own5.crt" >/dev/null 2>&1
: >"$T/server.log"
SERVE_ARGS=(--tls-cert "$T/own5.crt" --tls-key "$T/own.key")
start_server "$T/room4" URL4 || fail "server with a certificate ending in 5 days"
SERVE_ARGS=()
grep -q "TLS: the server certificate ends in [45] days: put a new certificate in place of --tls-cert" "$T/server.log" \
  && pass "cdrd warns in its log when the certificate nears its end" || fail "no expiry warning: $(cat "$T/server.log")"
stop_server "$SERVER_PID" || fail "stop room4"
start_server "$T/room4" URL4 || fail "room4 with an issued certificate"
stop_server "$SERVER_PID" || fail "stop room4 again"
cp "$T/own.crt" "$T/room4/tls/server.crt" # not the room CA's: replaced at the next start
: >"$T/server.log"
start_server "$T/room4" URL4 || fail "room4 restart"
grep -q "TLS: the room CA issued a server certificate" "$T/server.log" \
  && openssl verify -CAfile "$T/room4/ca.crt" "$T/room4/tls/server.crt" >/dev/null 2>&1 \
  && pass "a start replaces a certificate the room CA did not issue" || fail "not reissued: $(cat "$T/server.log")"
: >"$T/server.log"
restart_server_args() { stop_server "$SERVER_PID"; start_server "$T/room4" URL4; }
restart_server_args || fail "room4 second restart"
grep -q "issued a server certificate" "$T/server.log" && fail "a good certificate was reissued" \
  || pass "a restart keeps a certificate that is still good"
unset CURL_CA_BUNDLE

# ---- the slow-client reaper writes no plaintext on a TLS socket ----
(exec 3<>"/dev/tcp/127.0.0.1/$PORT" && timeout 60 cat <&3 >"$T/reaped") 2>/dev/null
[ -e "$T/reaped" ] && [ ! -s "$T/reaped" ] && pass "a silent TLS connection is closed without a plaintext 408" \
  || fail "the reaper wrote on the TLS socket: $(head -c 80 "$T/reaped" 2>/dev/null)"

# ---- the invitation bundle ----
"$CDR" room invite "$R" --role analyst --name bob@example.org --url "$URL" >"$T/inv.out" 2>"$T/err" \
  || fail "room invite --url: $(cat "$T/err")"
B=$(tail -n 1 "$T/inv.out")
case $B in cdr-invite-1:*) pass "room invite --url prints one bundle line" ;; *) fail "bundle: $B" ;; esac
# An independent parse, by PROTOCOL 4.4.1 alone.
python3 - "$B" "$R/ca.crt" >"$T/parse" 2>&1 <<'EOF'
import base64, hashlib, json, subprocess, sys
b = sys.argv[1]
assert b.startswith("cdr-invite-1:")
body = b[len("cdr-invite-1:"):]
assert "=" not in body
j = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
assert j["v"] == 1 and j["url"].startswith("https://") and j["token"].startswith("cdr1.")
der = base64.b64decode(j["ca"], validate=True)
assert hashlib.sha256(der).hexdigest() == j["ca_sha256"]
want = subprocess.run(["openssl", "x509", "-in", sys.argv[2], "-outform", "DER"], capture_output=True).stdout
assert der == want, "the bundle's CA is not ROOM/ca.crt"
assert j["platform"] == "sim" and len(j["measurement"]) == 64
print("parsed")
EOF
grep -q parsed "$T/parse" && pass "the bundle parses by the documented format and carries the room CA" \
  || fail "independent parse: $(cat "$T/parse")"

# tamper: the bundle re-encoded with another CA (consistent hash)
retarget() { # BUNDLE CA_FILE [keep_hash]
  python3 - "$@" <<'EOF'
import base64, hashlib, json, subprocess, sys
b, ca = sys.argv[1], sys.argv[2]
body = b[len("cdr-invite-1:"):]
j = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
der = subprocess.run(["openssl", "x509", "-in", ca, "-outform", "DER"], capture_output=True).stdout
j["ca"] = base64.b64encode(der).decode()
if len(sys.argv) < 4:
    j["ca_sha256"] = hashlib.sha256(der).hexdigest()
t = json.dumps(j, separators=(",", ":")).encode()
print("cdr-invite-1:" + base64.urlsafe_b64encode(t).decode().rstrip("="))
EOF
}
"$CDR" keygen "$T/bob.key" >/dev/null 2>&1
expect_error "a bundle with another room's CA is refused" invite_invalid \
  "$CDR" enroll "$(retarget "$B" "$R2/ca.crt")" --key "$T/bob.key" --profile bob
expect_error "a bundle whose CA does not match its ca_sha256 is refused" invite_invalid \
  "$CDR" enroll "$(retarget "$B" "$R2/ca.crt" keep)" --key "$T/bob.key" --profile bob
expect_error "a truncated bundle is refused" invite_invalid "$CDR" enroll "${B:0:60}" --key "$T/bob.key"
[ ! -e "$T/bob.crt" ] && pass "nothing saved from a tampered bundle" || fail "bob.crt written"

check "cdr enroll BUNDLE --key K enrolls the member" "$CDR" enroll "$B" --key "$T/bob.key" --profile bob
[ -s "$T/bob.crt" ] && pass "the certificate went beside the key (bob.crt)" || fail "no bob.crt"
grep -q '"attest_measurement"' "$T/config/profiles/bob.json" && grep -q '"attest_platform": "sim"' \
  "$T/config/profiles/bob.json" && pass "the profile keeps the bundle's platform and measurement" \
  || fail "profile: $(cat "$T/config/profiles/bob.json")"
check "the bundle-enrolled member works" "$CDR" contract --profile bob
sed 's|"attest_measurement": "[0-9a-f]*"|"attest_measurement": "'"$(printf '0%.0s' $(seq 64))"'"|' \
  "$T/config/profiles/bob.json" >"$T/bob.json" && cp "$T/bob.json" "$T/config/profiles/bob.json"
expect_error "a room that no longer attests the bundle's measurement is refused" measurement_unpinned \
  "$CDR" contract --profile bob
finish
