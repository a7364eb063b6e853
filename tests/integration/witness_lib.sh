#!/usr/bin/env bash
# witness_lib.sh - helpers for the tests of a room with history witnesses
# (sourced after lib.sh).  Witnesses serve HTTPS on ephemeral loopback
# ports with a certificate of a test CA that $T/ca-bundle.pem (exported as
# CURL_CA_BUNDLE, which cdr and cdrd use for witnesses) trusts.

# witness_tls: the test CA and a certificate for 127.0.0.1 (once).
witness_tls() {
  [ -s "$T/wtls.crt" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=witness test CA" \
    -keyout "$T/wca.key" -out "$T/wca.crt" >/dev/null 2>&1 || return 1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$T/wtls.key" -out "$T/wtls.csr" >/dev/null 2>&1 || return 1
  printf 'subjectAltName=IP:127.0.0.1\n' >"$T/wtls.ext"
  openssl x509 -req -in "$T/wtls.csr" -CA "$T/wca.crt" -CAkey "$T/wca.key" -CAcreateserial -days 2 \
    -extfile "$T/wtls.ext" -out "$T/wtls.crt" >/dev/null 2>&1 || return 1
  cat "$T/wca.crt" >>"$T/ca-bundle.pem"
  export CURL_CA_BUNDLE="$T/ca-bundle.pem"
}

# start_witness N [HOST:PORT]: start witness N (state $T/w$N), HTTPS on
# loopback; sets WURL[N] and WPID[N].
declare -a WURL WPID
start_witness() {
  local n=$1 listen=${2:-127.0.0.1:0}
  witness_tls || return 1
  new_ready_file
  local ready=$READY_FILE
  "$CDR" witness serve --listen "$listen" --state "$T/w$n" --allow-sim --tls-cert "$T/wtls.crt" \
    --tls-key "$T/wtls.key" --ready-file "$ready" >>"$T/witness$n.log" 2>&1 &
  WPID[n]=$!
  SERVER_PIDS+=("${WPID[n]}")
  wait_ready "${WPID[n]}" "$ready" 300 || { tail -5 "$T/witness$n.log"; return 1; }
  WURL[n]=$(head -n 1 "$ready")
}

# stop_witness N / restart_witness N: on the same address.
stop_witness() { stop_server "${WPID[$1]}"; }
restart_witness() { local u=${WURL[$1]}; start_witness "$1" "${u#https://}"; }

# witness_fp N: witness N's key fingerprint, from its log.
witness_fp() { sed -n 's/^witness key sha256: \([0-9a-f]\{64\}\)$/\1/p' "$T/witness$1.log" | tail -n 1; }

# garbage_witness N: in place of witness N (stopped first), on its address,
# an HTTPS server that answers every route 200 with JSON that is no valid
# witness answer (a countersignature under no key, no "latest" fields).
garbage_witness() {
  local n=$1 port=${WURL[$1]##*:}
  python3 - "$port" "$T/wtls.crt" "$T/wtls.key" >>"$T/garbage$n.log" 2>&1 <<'PY' &
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self): self.reply()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0))); self.reply()
    def reply(self):
        b = b'{"garbage":[1,2,3],"signature":"AAAA","witness_key_sha256":"' + b"00" * 32 + b'"}'
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
  WPID[n]=$!
  SERVER_PIDS+=("${WPID[n]}")
  for _ in $(seq 100); do curl -sf "${WURL[n]}/v1/witness/key" >/dev/null && return 0; sleep 0.1; done
  return 1
}
