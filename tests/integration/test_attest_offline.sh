#!/bin/bash
# test_attest_offline.sh - `cdr attest --evidence`: offline verification of a
# saved SEV-SNP report (a real one, from a GCP Milan VM; see
# tests/data/attest/snp/ and /work/shared/vectors/README.md) at pinned times,
# in each input encoding, and each refusal with its own error code.  No
# server is started.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$CDR_SOURCE_DIR/tests/data/attest/snp"
AT=2026-01-01T00:00:00Z
M=b747d55452e0b9e9079770a49e397c5e6d9573581e246da7baac4f28b5cdc5b1b6d19251b8ee600fd16a3708f58406f3
Z128=$(printf '0%.0s' $(seq 128))
snp() { "$CDR" attest --platform snp --certs "$D/vcek-gcp-milan.pem" --at "$AT" "$@"; }

# expect_usage NAME CMD...: the command must exit 2 (usage error).
expect_usage() {
  local name=$1; shift
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" -eq 2 ]; then pass "$name"; else fail "$name (exit $rc, want 2)"; sed 's/^/    /' "$T/err" | tail -3; fi
}

# Accepted, in every encoding.
check "binary report verifies" snp --evidence "$D/report-gcp-milan.bin"
grep -q "^measurement:  $M" "$T/out" && pass "summary shows the measurement" || fail "summary shows the measurement"
grep -q "^TCB:          bootloader 4, tee 0, snp 27, microcode 222" "$T/out" && pass "summary shows the TCB" \
  || fail "summary shows the TCB"
grep -q "^policy:       0x30000" "$T/out" && pass "summary shows the policy" || fail "summary shows the policy"
grep -q "\[ok\] certificate chain: SEV-VCEK -> SEV-Milan -> ARK-Milan" "$T/out" && pass "summary lists the chain" \
  || fail "summary lists the chain"
grep -q "FAIL" "$T/out" && fail "no failed check when verified" || pass "no failed check when verified"

check "hex report verifies" snp --evidence "$D/report-gcp-milan.hex"
grep -q "$M" "$T/out" && grep -q "(hex, 1184 bytes)" "$T/out" && pass "hex detected" || fail "hex detected"

{ printf '0x'; fold -w 60 "$D/report-gcp-milan.hex"; } >"$T/wrapped.hex"
check "0x-prefixed, wrapped hex verifies" snp --evidence "$T/wrapped.hex"

base64 "$D/report-gcp-milan.bin" >"$T/report.b64"
check "base64 report verifies" snp --evidence "$T/report.b64"
grep -q "(base64, 1184 bytes)" "$T/out" && pass "base64 detected" || fail "base64 detected"

cat "$D/vcek-gcp-milan.pem" "$D/ask-milan.pem" >"$T/bundle.pem"
check "bundle with VCEK and ASK verifies" "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp \
  --certs "$T/bundle.pem" --at "$AT"

check "expected measurement and report_data" snp --evidence "$D/report-gcp-milan.bin" \
  --expect-measurement "$M" --expect-report-data "$Z128"
grep -q "\[ok\] measurement: equals the expected value" "$T/out" && pass "measurement check listed" \
  || fail "measurement check listed"

check "RFC 3339 with offset and fraction" "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp \
  --certs "$D/vcek-gcp-milan.pem" --at 2026-01-01T01:00:00.123+01:00
grep -q "^verified at:  2026-01-01T00:00:00Z" "$T/out" && pass "offset applied" || fail "offset applied"

check "minimum TCB met" snp --evidence "$D/report-gcp-milan.bin" --snp-min-tcb bootloader=4,tee=0,snp=27,microcode=222

# Refused, each with its own code (and exit status 1).
expect_error "wrong expected measurement" attestation_measurement_mismatch \
  snp --evidence "$D/report-gcp-milan.hex" --expect-measurement "${M%?}4"
grep -q "result:       FAILED" "$T/out" && pass "summary printed on failure" || fail "summary printed on failure"
expect_error "wrong expected report_data" attestation_report_data_mismatch \
  snp --evidence "$D/report-gcp-milan.bin" --expect-report-data "1${Z128#?}"
expect_error "after the VCEK expired (2040)" attestation_cert_not_valid_at_time \
  "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp --certs "$D/vcek-gcp-milan.pem" \
  --at 2040-01-01T00:00:00Z
expect_error "before the VCEK was issued" attestation_cert_not_valid_at_time \
  "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp --certs "$D/vcek-gcp-milan.pem" \
  --at 2025-06-01T00:00:00Z
expect_error "TCB below the minimum" attestation_tcb_too_low \
  snp --evidence "$D/report-gcp-milan.bin" --snp-min-tcb snp=28

cp "$D/report-gcp-milan.bin" "$T/flipped.bin"
printf '\xb6' | dd of="$T/flipped.bin" bs=1 seek=$((0x90)) conv=notrunc status=none
expect_error "flipped measurement byte" attestation_bad_signature snp --evidence "$T/flipped.bin"
cp "$D/report-gcp-milan.bin" "$T/flipped-sig.bin"
printf '\x00' | dd of="$T/flipped-sig.bin" bs=1 seek=$((0x2A0)) conv=notrunc status=none
expect_error "flipped signature byte" attestation_bad_signature snp --evidence "$T/flipped-sig.bin"

expect_error "no VCEK given" attestation_unknown_root \
  "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp --at "$AT"
expect_error "a root is not a VCEK" attestation_unknown_root \
  "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp --certs "$D/ark-milan.pem" --at "$AT"

head -c 1183 "$D/report-gcp-milan.bin" >"$T/short.bin"
expect_error "truncated report" attestation_malformed snp --evidence "$T/short.bin"
cut -c 1-2366 "$D/report-gcp-milan.hex" >"$T/short.hex"
expect_error "truncated hex report" attestation_malformed snp --evidence "$T/short.hex"
echo "this is not evidence" >"$T/garbage.txt"
expect_error "text that is neither hex nor base64" "neither" snp --evidence "$T/garbage.txt"
expect_error "missing evidence file" "cannot read" snp --evidence "$T/nonexistent"
echo "not a certificate" >"$T/bad.pem"
expect_error "--certs without a certificate" "no PEM certificate" \
  "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform snp --certs "$T/bad.pem" --at "$AT"

# Usage errors (exit 2).
expect_usage "--evidence without --platform" "$CDR" attest --evidence "$D/report-gcp-milan.bin"
expect_usage "unknown platform" "$CDR" attest --evidence "$D/report-gcp-milan.bin" --platform sgx
expect_usage "bad --at" snp --evidence "$D/report-gcp-milan.bin" --at 2026-02-30T00:00:00Z
expect_usage "--at without a zone" snp --evidence "$D/report-gcp-milan.bin" --at 2026-01-01T00:00:00
expect_usage "short --expect-measurement" snp --evidence "$D/report-gcp-milan.bin" --expect-measurement abcd
expect_usage "bad --snp-min-tcb" snp --evidence "$D/report-gcp-milan.bin" --snp-min-tcb snp=256
expect_usage "offline option without --evidence" "$CDR" attest --platform snp
expect_usage "--evidence with a URL" "$CDR" attest http://127.0.0.1:1 --evidence "$D/report-gcp-milan.bin" \
  --platform snp

check "help mentions the offline mode" "$CDR" attest --help
grep -q -- "--evidence FILE" "$T/out" && pass "help lists --evidence" || fail "help lists --evidence"

finish
