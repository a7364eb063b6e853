#!/usr/bin/env bash
# deploy/systemd/cdrd.service: `systemd-analyze verify` passes (on a copy
# whose ExecStart names the built cdr, since verify needs the binary),
# also with each TEE drop-in; `systemd-analyze security --offline=yes`
# scores it, and docs/DEPLOY.md reports that same level; and every system
# call that cdrd and cdr-enclave make in a real run (traced with strace:
# start, enroll, upload, query, stop) is one the unit's SystemCallFilter=
# allows, so the filter would not kill the service.  The settings file the
# unit reads (deploy/systemd/cdrd.json, installed as /etc/cdr/cdrd.json)
# passes cdrd --check-config, and the traced run uses it (room and address
# moved into the test's folder): HTTPS with a certificate the room CA
# issues for its tls_name, /v1/health verified with the room CA.
. "$(dirname "$0")/lib.sh"

UNIT_SRC="$CDR_SOURCE_DIR/deploy/systemd/cdrd.service"
CONF_SRC="$CDR_SOURCE_DIR/deploy/systemd/cdrd.json"
DROPINS="$CDR_SOURCE_DIR/deploy/systemd/cdrd.service.d.examples"
command -v systemd-analyze >/dev/null || { fail "systemd-analyze is not installed (scripts/install-deps.sh installs systemd)"; finish; }

# The unit as shipped, with the binaries of this build.
U="$T/unit"
mkdir -p "$U"
sed -e "s#/usr/local/bin/cdr #$CDR_BIN_DIR/cdr #" -e "s#/usr/local/bin/cdrd #$CDR_BIN_DIR/cdrd #" "$UNIT_SRC" >"$U/cdrd.service"
grep -q "^ExecStart=$CDR_BIN_DIR/cdr serve --config /etc/cdr/cdrd.json$" "$U/cdrd.service" && pass "the copy runs this build's cdr" \
  || fail "ExecStart not rewritten: $(grep ExecStart "$U/cdrd.service")"
grep -q "^ExecStart=/usr/local/bin/cdrd --config /etc/cdr/cdrd.json " "$DROPINS/nitro.conf" \
  && pass "the nitro drop-in reads the same settings file" || fail "nitro.conf: $(grep ExecStart "$DROPINS/nitro.conf")"
grep -q "install -D -m 0644 deploy/systemd/cdrd.json /etc/cdr/cdrd.json" "$CDR_SOURCE_DIR/docs/DEPLOY.md" \
  && pass "docs/DEPLOY.md installs the settings file where the unit reads it" || fail "DEPLOY.md lacks the settings file's install"

# The settings file as shipped: valid, HTTPS on every address with the
# room CA's certificate for its tls_name.
"$CDR" serve --config "$CONF_SRC" --check-config >"$T/conf.out" 2>"$T/conf.err" \
  && pass "deploy/systemd/cdrd.json passes --check-config" || fail "cdrd.json: $(cat "$T/conf.err")"
expect_eq "it listens on every address" "$(jq -r .listen "$T/conf.out")" "0.0.0.0:8443"
[ "$(jq -r '.tls_name | length' "$T/conf.out")" -ge 1 ] && [ "$(jq -r .insecure_http "$T/conf.out")" = false ] \
  && pass "it names the TLS names ($(jq -c .tls_name "$T/conf.out")), no plain HTTP" || fail "TLS settings: $(cat "$T/conf.out")"
jq 'del(.tls_name)' "$CONF_SRC" >"$T/notls.json"
"$CDR" serve --config "$T/notls.json" --check-config >/dev/null 2>"$T/notls.err"
expect_eq "without tls_name the same file is refused (exit 2)" "$?" 2
grep -q "say which names clients use with --tls-name" "$T/notls.err" && pass "naming --tls-name" || fail "message: $(cat "$T/notls.err")"
(cd "$U" && systemd-analyze verify ./cdrd.service) >"$T/verify.out" 2>&1 && [ ! -s "$T/verify.out" ] \
  && pass "systemd-analyze verify: no complaint" || { fail "systemd-analyze verify"; sed 's/^/    /' "$T/verify.out"; }

# A misspelled setting is caught by the same check (so the pass above means something).
sed 's/^ProtectSystem=strict/ProtectSystm=strict/' "$U/cdrd.service" >"$T/bad.service"
(cd "$T" && systemd-analyze verify ./bad.service) >"$T/verify-bad.out" 2>&1
grep -q "Unknown key.*'ProtectSystm'" "$T/verify-bad.out" && pass "verify names a misspelled key" \
  || fail "a misspelled key passed: $(cat "$T/verify-bad.out")"

for d in snp tdx nitro; do
  rm -rf "$U/cdrd.service.d"; mkdir -p "$U/cdrd.service.d"
  sed "s#/usr/local/bin/cdrd #$CDR_BIN_DIR/cdrd #" "$DROPINS/$d.conf" >"$U/cdrd.service.d/$d.conf"
  (cd "$U" && systemd-analyze verify ./cdrd.service) >"$T/verify-$d.out" 2>&1 && [ ! -s "$T/verify-$d.out" ] \
    && pass "verify with the $d drop-in" || { fail "verify with $d"; sed 's/^/    /' "$T/verify-$d.out"; }
  if [ "$d" != nitro ]; then
    L=$(cd "$U" && systemd-analyze security --offline=yes ./cdrd.service 2>&1 | sed -n 's/.*Overall exposure level for cdrd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
    grep -q "with the $d drop-in \*\*$L\*\*" "$CDR_SOURCE_DIR/docs/DEPLOY.md" && pass "docs/DEPLOY.md reports the level with $d ($L)" \
      || fail "docs/DEPLOY.md does not report 'with the $d drop-in **$L**'"
  fi
done
rm -rf "$U/cdrd.service.d"

# The exposure level, and the docs must report the same.
(cd "$U" && systemd-analyze security --offline=yes ./cdrd.service) >"$T/security.out" 2>&1
LEVEL=$(sed -n 's/.*Overall exposure level for cdrd.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' "$T/security.out")
echo "# exposure level: $LEVEL"
[ -n "$LEVEL" ] && pass "systemd-analyze security scored the unit ($LEVEL)" || fail "no score: $(tail -3 "$T/security.out")"
grep -q "exposure level \*\*$LEVEL\*\*" "$CDR_SOURCE_DIR/docs/DEPLOY.md" && pass "docs/DEPLOY.md reports $LEVEL" \
  || fail "docs/DEPLOY.md does not report 'exposure level **$LEVEL**'"

# The system calls of a real run, against the unit's filter.
command -v strace >/dev/null || { fail "strace is not installed"; finish; }
# As the unit runs it: an unprivileged user with no capabilities (as root,
# SQLite gives each new journal file the database's owner with fchown,
# which a service user never does, and the unit denies).
S="$T/svc"
mkdir -p "$S"
R="$S/room"
new_room "$R" || { fail "room init"; finish; }
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  chmod 0711 "$T"
  chown -R 65534:65534 "$S"
  RUN=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
fi
new_ready_file "$S"
# The shipped settings, with the room, a free loopback port and the
# ready file of this test, and 127.0.0.1 added to the names (curl and the
# client reach it there).
jq --arg r "$R" --arg f "$READY_FILE" '.room = $r | .listen = "127.0.0.1:0" | .ready_file = $f | .tls_name += ["127.0.0.1"]' \
  "$CONF_SRC" >"$S/cdrd.json"
[ "$(id -u)" -eq 0 ] && chown 65534:65534 "$S/cdrd.json"
"${RUN[@]}" strace -f -C -o "$S/strace.txt" "$CDR" serve --config "$S/cdrd.json" >>"$T/server.log" 2>&1 &
STRACE_PID=$!
SERVER_PIDS+=("$STRACE_PID")
wait_ready "$STRACE_PID" "$READY_FILE" || { fail "traced server start"; tail "$T/server.log"; finish; }
URL=$(head -n 1 "$READY_FILE")
case $URL in https://*) pass "the unit's settings serve HTTPS ($URL)" ;; *) fail "not HTTPS: $URL" ;; esac
expect_eq "GET /v1/health over TLS, verified with the room CA" \
  "$(curl -sS --cacert "$R/ca.crt" "$URL/v1/health" | jq -r .status)" "ok"
openssl x509 -in "$R/tls/server.crt" -noout -ext subjectAltName >"$T/san" 2>&1
for n in $(jq -r '.tls_name[]' "$CONF_SRC"); do
  grep -q "DNS:$n" "$T/san" && pass "the certificate names $n (tls_name)" || fail "SAN lacks $n: $(cat "$T/san")"
done
CDRD_PID=$(cat /proc/"$STRACE_PID"/task/*/children | tr ' ' '\n' | grep -m1 .)
user prov provider "$R" "$URL" || fail "enroll"
activate_contract "$R" prov || fail "activate the contract"
printf 'id,v\n1,10\n2,32\n' >"$T/t.csv"
"$CDR" upload --profile prov t "$T/t.csv" >/dev/null 2>&1 || fail "upload"
expect_eq "a query answers under strace" "$("$CDR" query --profile prov "SELECT sum(v) FROM t" --format csv 2>&1 | tr -d '\r' | tail -n 1)" "42"
stop_server "$CDRD_PID" || fail "cdrd stops on SIGTERM"
for _ in $(seq 100); do kill -0 "$STRACE_PID" 2>/dev/null || break; sleep 0.1; done
# -C: every call, then the summary table (after its "% time" header).
awk '/^% time/ {s = 1; next} s && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" {print $NF}' "$S/strace.txt" | sort -u >"$T/used"
[ "$(wc -l <"$T/used")" -gt 20 ] && pass "strace saw $(wc -l <"$T/used") distinct system calls" || fail "strace summary: $(cat "$S/strace.txt")"

python3 - "$U/cdrd.service" "$T/used" >"$T/filter.out" 2>&1 <<'PY'
import subprocess, sys
unit, used = sys.argv[1], sys.argv[2]
cache = {}
def expand(name):
    if not name.startswith("@"):
        return {name}
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
        s = set()
        for line in out.splitlines()[1:]:
            w = line.strip()
            if w and not w.startswith("#"):
                s |= expand(w)
        cache[name] = s
    return cache[name]
allow, deny = set(), set()
for line in open(unit):
    if line.startswith("SystemCallFilter="):
        v = line.split("=", 1)[1].strip()
        target = deny if v.startswith("~") else allow
        for w in v.lstrip("~").split():
            target |= expand(w)
allowed = allow - deny
missing = sorted(set(open(used).read().split()) - allowed)
print("allowed:", len(allowed), "missing:", " ".join(missing))
sys.exit(1 if missing or not allowed else 0)
PY
[ $? -eq 0 ] && pass "every traced system call is allowed by the unit ($(cat "$T/filter.out"))" \
  || fail "the unit's filter would kill the service: $(cat "$T/filter.out")"

NMAP=$(grep -cE '^[0-9]+ +mmap\(.*PROT_EXEC' "$S/strace.txt")
[ "$NMAP" -gt 0 ] && pass "the trace shows the calls (executable mappings of libraries: $NMAP)" || fail "no mmap lines in the trace"
# MemoryDenyWriteExecute=yes: systemd refuses mmap with PROT_WRITE and
# PROT_EXEC together, and any mprotect that adds PROT_EXEC.
grep -E '^[0-9]+ +(mmap|mprotect|pkey_mprotect)\(' "$S/strace.txt" | grep -E 'PROT_EXEC' \
  | grep -E 'mprotect|PROT_WRITE' >"$T/wx" || true
[ ! -s "$T/wx" ] && pass "no writable-and-executable or made-executable memory (MemoryDenyWriteExecute holds)" \
  || { fail "calls MemoryDenyWriteExecute would refuse:"; head -5 "$T/wx" | sed 's/^/    /'; }
# RestrictAddressFamilies=: every socket() family is one the unit allows.
FAMILIES=$(sed -n 's/^[0-9]* *socket(\(AF_[A-Z0-9]*\).*/\1/p; s/^[0-9]* *socketpair(\(AF_[A-Z0-9]*\).*/\1/p' "$S/strace.txt" | sort -u | tr '\n' ' ')
ALLOWED=" $(sed -n 's/^RestrictAddressFamilies=//p' "$U/cdrd.service") "
BAD=""
for f in $FAMILIES; do case "$ALLOWED" in *" $f "*) ;; *) BAD="$BAD $f" ;; esac; done
[ -n "$FAMILIES" ] && [ -z "$BAD" ] && pass "socket families used ($FAMILIES) are all allowed" || fail "socket families: used [$FAMILIES], not allowed [$BAD]"
finish
