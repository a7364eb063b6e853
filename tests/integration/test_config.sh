#!/usr/bin/env bash
# `cdr serve --config FILE` (JSON, the option table of src/host/config.c):
# a good file serves; --check-config prints the effective settings (exit
# 0); an unknown key, a wrong type, a bad value or a bad file is refused
# naming the key (exit 2); every flag overrides the file.  The TLS rows:
# tls_name a list (the file's array, replaced by --tls-name flags),
# tls_cert/tls_key, insecure_http, checked against the listen address.
. "$(dirname "$0")/lib.sh"

R="$T/room"
new_room "$R" || { fail "room init"; finish; }
cfg="$T/cdrd.json"

# A good file: the room, the listen address, the log level, the ready file.
new_ready_file
cat >"$cfg" <<JSON
{"room": "$R", "listen": "127.0.0.1:0", "log_level": "warn", "http_threads": 2,
 "ready_file": "$READY_FILE", "metrics_listen": "127.0.0.1:0"}
JSON
check "--check-config accepts a good file" "$CDR" serve --check-config --config "$cfg"
expect_eq "effective room from the file" "$(jq -r .room "$T/out")" "$R"
expect_eq "effective log level from the file" "$(jq -r .log_level "$T/out")" warn
expect_eq "effective threads from the file" "$(jq -r .http_threads "$T/out")" 2
expect_eq "settings not in the file keep their defaults" "$(jq -r .metrics_allow_remote "$T/out")" false

# Flags override the file, wherever they stand.
"$CDR" serve --listen 127.0.0.1:9999 --config "$cfg" --log-level debug --check-config >"$T/out" 2>"$T/err"
expect_eq "--listen overrides the file" "$(jq -r .listen "$T/out")" 127.0.0.1:9999
expect_eq "--log-level overrides the file" "$(jq -r .log_level "$T/out")" debug
"$CDR" serve "$T/other" --config "$cfg" --check-config >"$T/out" 2>"$T/err"
expect_eq "the ROOM operand overrides the file" "$(jq -r .room "$T/out")" "$T/other"

# The file really drives the server: it starts on the file's settings
# (log level warn: no info lines).
"$CDR" serve --config "$cfg" >"$T/cfg-server.log" 2>&1 &
pid=$!
SERVER_PIDS+=("$pid")
if wait_ready "$pid" "$READY_FILE"; then
  url=$(head -n 1 "$READY_FILE")
  trust_room_ca "$R"
  case $url in https://*) pass "the server from the file serves HTTPS ($url)" ;; *) fail "not HTTPS: $url" ;; esac
  expect_eq "the server from the file answers" "$(curl -s "$url/v1/ready" | jq -r .status)" ok
  grep -q "cdrd\[info\]" "$T/cfg-server.log" && fail "log_level warn still logged cdrd info lines" || pass "log_level warn applied (cdrd lines; the enclave keeps its own)"
  stop_server "$pid" || fail "stop"
else
  fail "the server from the file did not start"; tail -5 "$T/cfg-server.log"
fi

# The TLS rows: a list from the file, replaced (not extended) by flags;
# the issued certificate names what the file lists.
cat >"$T/tls.json" <<JSON
{"room": "$R", "listen": "0.0.0.0:0", "tls_name": ["room.example.org", "127.0.0.1"], "ready_file": "$T/tls.ready"}
JSON
check "--check-config accepts a tls_name list on 0.0.0.0" "$CDR" serve --check-config --config "$T/tls.json"
expect_eq "tls_name from the file, in order" "$(jq -c .tls_name "$T/out")" '["room.example.org","127.0.0.1"]'
expect_eq "insecure_http defaults to false" "$(jq -r .insecure_http "$T/out")" false
"$CDR" serve --config "$T/tls.json" --tls-name a.example --tls-name b.example --check-config >"$T/out" 2>"$T/err"
expect_eq "--tls-name flags replace the file's list" "$(jq -c .tls_name "$T/out")" '["a.example","b.example"]'
rm -f "$R/tls/server.crt"
"$CDR" serve --config "$T/tls.json" --listen 127.0.0.1:0 >"$T/tls-server.log" 2>&1 &
pid=$!
SERVER_PIDS+=("$pid")
if wait_ready "$pid" "$T/tls.ready"; then
  openssl x509 -in "$R/tls/server.crt" -noout -ext subjectAltName >"$T/san" 2>&1
  grep -q "DNS:room.example.org" "$T/san" && grep -q "IP Address:127.0.0.1" "$T/san" \
    && pass "the issued certificate names the file's tls_name list" || fail "SAN: $(cat "$T/san")"
  check "health over TLS, verified with the room CA" curl -sS --cacert "$R/ca.crt" "$(head -n 1 "$T/tls.ready")/v1/health"
  stop_server "$pid" || fail "stop"
else
  fail "the server with tls_name did not start"; tail -5 "$T/tls-server.log"
fi

# refused CONTENT MESSAGE: --check-config on a file with CONTENT exits 2
# and says MESSAGE.
refused() {
  printf '%s\n' "$1" >"$T/bad.json"
  "$CDR" serve --check-config --config "$T/bad.json" >"$T/out" 2>"$T/err"
  local st=$?
  if [ "$st" -eq 2 ] && grep -qF -- "$2" "$T/err"; then pass "refused: $2"
  else fail "[$1]: exit $st, wanted 2 and [$2]; got: $(cat "$T/err")"; fi
}
refused "{\"room\": \"$R\", \"listn\": \"127.0.0.1:1\"}" 'unknown key "listn"'
refused "{\"room\": \"$R\", \"http_threads\": \"4\"}" '"http_threads" must be a non-negative integer'
refused "{\"room\": \"$R\", \"http_threads\": -1}" '"http_threads" must be a non-negative integer'
refused "{\"room\": \"$R\", \"listen\": 8443}" '"listen" must be a string'
refused "{\"room\": \"$R\", \"metrics_allow_remote\": \"yes\"}" '"metrics_allow_remote" must be true or false'
refused "{\"room\": \"$R\", \"listen\": \"nocolon\"}" 'config key "listen"'
refused "{\"room\": \"$R\", \"log_level\": \"loud\"}" 'config key "log_level"'
refused "{\"room\": \"$R\", \"http_threads\": 65}" 'config key "http_threads"'
refused "{\"room\": \"$R\", \"room\": \"$R\"}" 'not a valid JSON file'
refused "[1, 2]" 'must be a JSON object'
refused "{\"room\": \"$R\"" 'not a valid JSON file'
refused "{}" 'a room folder is required'
refused "{\"room\": \"$R\", \"tls_name\": \"room.example.org\"}" '"tls_name" must be an array of strings'
refused "{\"room\": \"$R\", \"tls_name\": [\"a.example\", 7]}" '"tls_name" must be an array of strings'
refused "{\"room\": \"$R\", \"listen\": \"0.0.0.0:8443\"}" 'say which names clients use with --tls-name'
refused "{\"room\": \"$R\", \"listen\": \"0.0.0.0:8443\", \"insecure_http\": true}" 'insecure-http is refused on 0.0.0.0'
refused "{\"room\": \"$R\", \"tls_cert\": \"/x.crt\"}" '--tls-cert and --tls-key go together'
refused "{\"room\": \"$R\", \"tls_name\": [\"bad name!\"]}" 'is neither an IP address nor a DNS name'
expect_error "a missing file is refused" "not a valid JSON file" "$CDR" serve --check-config --config "$T/none.json"
expect_error "a bad flag value is refused naming the flag" "--http-threads wants a non-negative integer" \
  "$CDR" serve "$R" --http-threads many --check-config
expect_error "an unknown flag is refused" "unknown option" "$CDR" serve "$R" --no-such-flag
check "cdr serve --help lists the config keys" "$CDR" serve --help
grep -q "\[metrics_listen\]" "$T/out" && grep -q -- "--config FILE" "$T/out" && pass "help names flags and keys" \
  || fail "help text"
grep -q -- "--tls-name NAME" "$T/out" && grep -q "\[tls_name\]" "$T/out" && grep -q "\[insecure_http\]" "$T/out" \
  && grep -q "\[tls_cert\]" "$T/out" && pass "help lists the TLS options and their keys" || fail "TLS help text"
finish
