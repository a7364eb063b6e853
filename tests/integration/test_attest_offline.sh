#!/bin/bash
# test_attest_offline.sh - `cdr attest --evidence`: offline verification of a
# saved SEV-SNP report (a real one, from a GCP Milan VM; see
# tests/data/attest/snp/ and /work/shared/vectors/README.md) at pinned times,
# in each input encoding, and each refusal with its own error code; then the
# RTMR and PCR expectations (--expect-rtmr, --expect-pcr) on the real TDX
# quote and Nitro document at their own times, and their usage errors in
# `cdr attest` and the commands that connect.  No server is started.
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

# Refused, each with its own code (and exit status 5, verification failed).
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

# RTMR expectations on the real TDX quote (its platform TCB status is
# "Unknown": accepted by name, as the unit test does).
TD="$CDR_SOURCE_DIR/tests/data/attest/tdx"
Z96=$(printf '0%.0s' $(seq 96))
RTMR0=4574c098915caf3e82057817dbd135c1ed0ee1b39ac300c921479e2f5ebf5726a13ee0c8745ac891b6aee7c4f9664610
RTMR3=547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f
tdx() { "$CDR" attest --platform tdx --collateral "$TD/collateral.json" --at 2025-03-20T00:00:00Z \
  --accept-tcb Unknown "$@"; }
check "TDX quote with its true RTMRs expected" tdx --evidence "$TD/tdx-quote.hex" \
  --expect-rtmr "0=$RTMR0" --expect-rtmr "1=$Z96" --expect-rtmr "2=$Z96" --expect-rtmr "3=$RTMR3"
for i in 0 1 2 3; do
  grep -q "\[ok\] expected register: RTMR$i equals the expected value" "$T/out" && pass "RTMR$i check listed" \
    || fail "RTMR$i check listed"
done
grep -q "^result:       attestation verified" "$T/out" && pass "TDX with RTMRs verified" \
  || fail "TDX with RTMRs verified"
expect_error "TDX quote with one byte of RTMR2 differing" attestation_measurement_mismatch \
  tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "0=$RTMR0" --expect-rtmr "2=${Z96%??}01"
grep -q "RTMR2 differs: expected ${Z96%??}01, got $Z96" "$T/err" && pass "the error names RTMR2 and both values" \
  || fail "the error names RTMR2 and both values"
grep -q "\[FAIL\] expected register: RTMR2 differs" "$T/out" && pass "the failed RTMR2 check is listed" \
  || fail "the failed RTMR2 check is listed"
expect_error "TDX quote with RTMR0's first byte differing" attestation_measurement_mismatch \
  tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "0=5${RTMR0#?}"
grep -q "RTMR0 differs" "$T/err" && pass "the error names RTMR0" || fail "the error names RTMR0"
expect_error "a PCR expected of a TDX quote" "PCR0 expected, but Intel TDX evidence has no PCRs" \
  tdx --evidence "$TD/tdx-quote.bin" --expect-pcr "0=$Z96"
grep -q attestation_measurement_mismatch "$T/err" && pass "no PCR on TDX: measurement mismatch" \
  || fail "no PCR on TDX: measurement mismatch"
expect_error "an RTMR expectation is checked after the quote verified" attestation_tcb_too_low \
  "$CDR" attest --platform tdx --collateral "$TD/collateral.json" --at 2025-03-20T00:00:00Z \
  --evidence "$TD/tdx-quote.bin" --expect-rtmr "2=${Z96%??}01"

# PCR expectations on the real Nitro document, at its own time.
ND="$CDR_SOURCE_DIR/tests/data/attest/nitro"
PCR0=4d8ff9d3a23815b17d4a46c648da68e822ec7d32e473e023ba96fb6e388af2d5e0838d174a2d376d3593cc929b3d610e
PCR1=bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
PCR2=3c679aaa8a7507b33e7a61524585cca6f338bbdd28364f8df80882e7b56ec21e31a4a96c5c59c6b5e9b3027e3f10f83a
nitro() { "$CDR" attest --platform nitro --at 2024-05-07T17:43:06Z "$@"; }
check "Nitro document with its true PCRs expected" nitro --evidence "$ND/attestation-2024-05-07.b64" \
  --expect-pcr "0=$PCR0" --expect-pcr "1=$PCR1" --expect-pcr "2=$PCR2" --expect-pcr "3=$Z96"
grep -q "\[ok\] expected register: PCR2 equals the expected value" "$T/out" && pass "PCR2 check listed" \
  || fail "PCR2 check listed"
grep -q "^PCR1 *$PCR1" "$T/out" && pass "summary shows PCR1" || fail "summary shows PCR1"
expect_error "Nitro document with one byte of PCR1 differing" attestation_measurement_mismatch \
  nitro --evidence "$ND/attestation-2024-05-07.cbor" --expect-pcr "1=${PCR1%??}3e"
grep -q "PCR1 differs: expected ${PCR1%??}3e, got $PCR1" "$T/err" && pass "the error names PCR1 and both values" \
  || fail "the error names PCR1 and both values"
expect_error "a PCR the document does not carry" "PCR16 expected, but the document does not carry it" \
  nitro --evidence "$ND/attestation-2024-05-07.cbor" --expect-pcr "16=$Z96"
expect_error "an RTMR expected of a Nitro document" "AWS Nitro evidence has no RTMRs" \
  nitro --evidence "$ND/attestation-2024-05-07.cbor" --expect-rtmr "0=$Z96"

# SEV-SNP has neither register: an expectation fails, it is not ignored.
expect_error "an RTMR expected of an SNP report" attestation_measurement_mismatch \
  snp --evidence "$D/report-gcp-milan.bin" --expect-rtmr "1=$Z96"
grep -q "RTMR1 expected, but AMD SEV-SNP evidence has no RTMRs" "$T/err" && pass "it says SEV-SNP has no RTMRs" \
  || fail "it says SEV-SNP has no RTMRs"
grep -q "\[ok\] VCEK signature over the report" "$T/out" && pass "the report itself verified first" \
  || fail "the report itself verified first"
expect_error "a PCR expected of an SNP report" "AMD SEV-SNP evidence has no PCRs" \
  snp --evidence "$D/report-gcp-milan.bin" --expect-pcr "0=$M"

# Usage errors (exit 2).
expect_usage "--expect-rtmr index 4" tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "4=$Z96"
expect_usage "--expect-rtmr without N=" tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "$Z96"
expect_usage "--expect-rtmr short value" tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "1=abcd"
expect_usage "--expect-rtmr non-hex value" tdx --evidence "$TD/tdx-quote.bin" --expect-rtmr "1=${Z96%?}g"
expect_usage "--expect-rtmr twice with different values" tdx --evidence "$TD/tdx-quote.bin" \
  --expect-rtmr "1=$Z96" --expect-rtmr "1=${Z96%?}1"
grep -q -- "--expect-rtmr takes N=HEX" "$T/err" && pass "the usage error says the form" \
  || fail "the usage error says the form"
check "--expect-rtmr twice with the same value" tdx --evidence "$TD/tdx-quote.bin" \
  --expect-rtmr "1=$Z96" --expect-rtmr "1=$Z96"
expect_usage "--expect-pcr index 32" nitro --evidence "$ND/attestation-2024-05-07.cbor" --expect-pcr "32=$Z96"
expect_usage "--expect-pcr negative index" nitro --evidence "$ND/attestation-2024-05-07.cbor" --expect-pcr "-1=$Z96"
expect_usage "--expect-pcr online, bad" "$CDR" attest http://127.0.0.1:1 --expect-pcr "1=xyz"
expect_usage "cdr query --expect-rtmr, bad" "$CDR" query http://127.0.0.1:1 --expect-rtmr "9=$Z96" "SELECT 1"
grep -q -- "cdr query: --expect-rtmr takes N=HEX" "$T/err" && pass "query names the option" \
  || fail "query names the option"
expect_usage "cdr tables --expect-pcr, bad" "$CDR" tables http://127.0.0.1:1 --expect-pcr "1=$Z96" \
  --expect-pcr "1=${Z96%?}2"
expect_usage "cdr upload --expect-pcr, bad" "$CDR" upload http://127.0.0.1:1 t "$T/none.csv" --expect-pcr 1
# The SEV-SNP minimum TCB of the online form (the verifier's use of it:
# tests/unit/test_tsm.c), as an option and from the environment.
expect_usage "cdr query --snp-min-tcb, bad" "$CDR" query http://127.0.0.1:1 --snp-min-tcb snp=256 "SELECT 1"
grep -q -- "cdr query: --snp-min-tcb takes bootloader=N" "$T/err" && pass "query names --snp-min-tcb" \
  || fail "query names --snp-min-tcb"
expect_usage "cdr attest URL --snp-min-tcb, bad" "$CDR" attest http://127.0.0.1:1 --snp-min-tcb tee
expect_usage "an empty --snp-min-tcb" "$CDR" query http://127.0.0.1:1 --snp-min-tcb "" "SELECT 1"
expect_usage "a field given twice" "$CDR" query http://127.0.0.1:1 --snp-min-tcb snp=27,snp=0 "SELECT 1"
expect_usage "CDR_SNP_MIN_TCB, bad" env CDR_SNP_MIN_TCB=fmc=1 "$CDR" tables http://127.0.0.1:1
grep -q -- "cdr tables: CDR_SNP_MIN_TCB takes" "$T/err" && pass "tables names CDR_SNP_MIN_TCB" \
  || fail "tables names CDR_SNP_MIN_TCB"
expect_error "a well-formed --snp-min-tcb gets as far as connecting" network_error \
  "$CDR" attest http://127.0.0.1:1 --snp-min-tcb snp=27,microcode=222

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
grep -q -- "--expect-rtmr N=HEX" "$T/out" && grep -q -- "--expect-pcr N=HEX" "$T/out" \
  && pass "help lists --expect-rtmr and --expect-pcr" || fail "help lists --expect-rtmr and --expect-pcr"
check "tables help" "$CDR" tables --help
grep -q -- "--expect-rtmr N=HEX" "$T/out" && grep -q -- "--expect-pcr N=HEX" "$T/out" \
  && pass "connection help lists --expect-rtmr and --expect-pcr" \
  || fail "connection help lists --expect-rtmr and --expect-pcr"

finish
