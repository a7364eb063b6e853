#!/usr/bin/env bash
# /metrics on cdrd's own metrics listener (--metrics-listen): a real
# scrape passes `promtool check metrics` (Debian's prometheus package);
# the counters move with requests; the gauges say what the host sees
# (enclave RSS, sealed bytes, load progress, audit records, sessions);
# no table or member name appears; the listener is loopback only unless
# --metrics-allow-remote; and the API listener has no /metrics.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || { fail "promtool is missing: run scripts/install-deps.sh"; finish; }
R="$T/room"
new_room "$R" || { fail "room init"; finish; }

# start_metrics_server: start with a metrics listener; sets URL and MURL.
start_metrics_server() {
  new_ready_file
  "$CDR" serve "$R" --listen "${1:-127.0.0.1:0}" --metrics-listen 127.0.0.1:0 --ready-file "$READY_FILE" \
    >"$T/server.log" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
  wait_ready "$SERVER_PID" "$READY_FILE" || { tail -5 "$T/server.log"; return 1; }
  URL=$(head -n 1 "$READY_FILE")
  MURL=$(grep -o 'metrics on [^ ]*' "$T/server.log" | tail -n 1 | cut -d' ' -f3)
  trust_room_ca "$R"
  [ -n "$MURL" ]
}
start_metrics_server || { fail "server start"; finish; }
# The API is HTTPS; the metrics listener is plain HTTP (loopback).
case "$URL $MURL" in "https://"*" http://"*) pass "API on HTTPS, metrics on plain HTTP" ;; *) fail "schemes: $URL $MURL" ;; esac
scrape() { curl -s -o "$T/metrics.$1" -w '%{http_code} %{content_type}' "$MURL"; }
# value FILE SERIES: the sample of that exact series (name{labels}).
value() { awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " {print $NF}' "$T/metrics.$1"; }

read -r st ct < <(scrape 1)
expect_eq "GET /metrics answers 200" "$st" 200
case $ct in text/plain*version=0.0.4*) pass "exposition format content type ($ct)" ;; *) fail "content type $ct" ;; esac
if promtool check metrics <"$T/metrics.1" >"$T/promtool.out" 2>&1; then
  pass "promtool check metrics accepts the scrape"
else
  fail "promtool check metrics:"; sed 's/^/    /' "$T/promtool.out" | head -10
fi

h='cdr_http_requests_total{route="GET /v1/health",status="200"}'
before=$(value 1 "$h")
for _ in 1 2 3; do curl -s -o /dev/null "$URL/v1/health"; done
curl -s -o /dev/null "$URL/v1/no-such-route"
scrape 2 >/dev/null
expect_eq "three health requests move the counter by 3" "$(( $(value 2 "$h") - before ))" 3
expect_eq "an unknown path counts as unmatched 404" \
  "$(value 2 'cdr_http_requests_total{route="unmatched",status="404"}')" 1
expect_eq "the health latency histogram counts them" \
  "$(value 2 'cdr_http_request_duration_seconds_count{route="GET /v1/health"}')" "$(value 2 "$h")"
expect_eq "ready" "$(value 2 cdr_ready)" 1
rss=$(value 2 cdr_enclave_resident_memory_bytes)
[ "${rss:-0}" -gt 1000000 ] 2>/dev/null && pass "enclave RSS reported ($rss bytes)" || fail "enclave RSS: [$rss]"

# Real work: enroll, upload, query.  Sessions, audit records and sealed
# bytes grow; the member and table names appear nowhere.
user prov provider "$R" "$URL" && user ana analyst "$R" "$URL" || { fail "enroll"; finish; }
activate_contract "$R" prov ana || { fail "activate the contract"; finish; }
printf 'k,v\n1,a\n' >"$T/t.csv"
check "upload" "$CDR" upload --profile prov secret_table_name "$T/t.csv"
check "grant" "$CDR" grant --profile prov secret_table_name --to role:analyst
check "query" "$CDR" query --profile ana "SELECT count(*) FROM secret_table_name"
scrape 3 >/dev/null
promtool check metrics <"$T/metrics.3" >"$T/promtool.out" 2>&1 && pass "promtool accepts the scrape after work" \
  || { fail "promtool after work:"; head -5 "$T/promtool.out"; }
[ "$(value 3 cdr_sessions_opened_total)" -ge 3 ] && pass "sessions opened counted ($(value 3 cdr_sessions_opened_total))" \
  || fail "sessions opened: $(value 3 cdr_sessions_opened_total)"
[ "$(value 3 cdr_sessions_open)" -ge 1 ] && pass "open sessions reported" || fail "open sessions: $(value 3 cdr_sessions_open)"
[ "$(value 3 cdr_audit_records)" -gt 0 ] && pass "audit records counted ($(value 3 cdr_audit_records))" \
  || fail "audit records: $(value 3 cdr_audit_records)"
[ "$(value 3 cdr_sealed_bytes)" -gt "$(value 1 cdr_sealed_bytes)" ] && pass "sealed bytes grew with the upload" \
  || fail "sealed bytes: $(value 1 cdr_sealed_bytes) -> $(value 3 cdr_sealed_bytes)"
[ "$(value 3 'cdr_http_requests_total{route="POST /v1/request",status="200"}')" -ge 3 ] \
  && pass "encrypted requests counted" || fail "request counter"
expect_eq "the enclave's queue is empty when idle" "$(value 3 cdr_enclave_calls_queued)" 0
grep -qiE 'secret_table_name|prov@|ana@|example.org' "$T/metrics.3" && fail "a table or member name is in the metrics" \
  || pass "no table or member name in the metrics"
expect_eq "the API listener has no /metrics" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" 404

# After a restart the load progress counts the sealed table.
stop_server "$SERVER_PID" || fail "stop"
start_metrics_server "${URL#*://}" || { fail "restart"; finish; }
scrape 4 >/dev/null
expect_eq "tables total after restart" "$(value 4 cdr_load_tables_on_disk)" 1
expect_eq "tables loaded after restart" "$(value 4 cdr_load_tables_loaded)" 1
[ "$(value 4 cdr_load_bytes_loaded)" -gt 0 ] && [ "$(value 4 cdr_load_bytes_loaded)" = "$(value 4 cdr_load_bytes_on_disk)" ] \
  && pass "bytes loaded equal the bytes on disk" || fail "bytes loaded $(value 4 cdr_load_bytes_loaded) of $(value 4 cdr_load_bytes_on_disk)"

# Loopback only, unless the operator says otherwise.
expect_error "a non-loopback metrics address is refused" "is not a loopback address" \
  "$CDR" serve "$R" --metrics-listen 0.0.0.0:9100 --check-config
expect_eq "and exits 2" "$("$CDR" serve "$R" --metrics-listen 192.0.2.1:9100 --check-config >/dev/null 2>&1; echo $?)" 2
check "--metrics-allow-remote accepts it" "$CDR" serve "$R" --metrics-listen 0.0.0.0:9100 --metrics-allow-remote --check-config
check "[::1] is loopback" "$CDR" serve "$R" --metrics-listen '[::1]:9100' --check-config
finish
