#!/bin/bash
# test_contract_canonical.sh - the room contract's canonical encoding
# (docs/PROTOCOL.md 8.2) agrees with an independent implementation:
# Python's json module, json.dumps(doc, sort_keys=True,
# separators=(",", ":"), ensure_ascii=False).encode("utf-8"), and hashlib.
#   - the vector of PROTOCOL.md 8.8: Python re-encodes the document to the
#     same bytes and hashes it to contract_sha256; openssl verifies the
#     member's signature over contract_sign_input with user_spki;
#   - a document the C library writes (contract_tool sample: 300 members
#     with non-ASCII, '"', '\', '/', emoji, U+00B7 in their names): Python
#     re-encodes it byte for byte and finds the same hash;
#   - a document Python writes (random names across Unicode planes): the
#     C parser accepts it and finds the same hash; the same document with
#     indentation, \u escapes, unsorted keys or a trailing newline is
#     refused as contract_invalid.
# No server.  Needs python3 and openssl (scripts/install-deps.sh).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOL="$CDR_TEST_BIN_DIR/contract_tool"
DOC="$CDR_SOURCE_DIR/docs/PROTOCOL.md"
if ! command -v python3 >/dev/null; then
  fail "python3 is installed (scripts/install-deps.sh)"
  finish
fi

cat >"$T/canon.py" <<'EOF'
import hashlib, json, random, re, sys

def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

def vector(name, text):
    m = re.search(r"^" + name + r": ([0-9a-f]+)$", text, re.M)
    return bytes.fromhex(m.group(1))

cmd = sys.argv[1]
if cmd == "vector":  # vector PROTOCOL.md OUTDIR
    text = open(sys.argv[2], encoding="utf-8").read()
    doc = vector("contract_document", text)
    again = canon(json.loads(doc.decode("utf-8")))
    print("same" if again == doc else "differs")
    print(hashlib.sha256(again).hexdigest(), vector("contract_sha256", text).hex())
    out = sys.argv[3]
    open(out + "/spki.der", "wb").write(vector("user_spki", text))
    open(out + "/msg.bin", "wb").write(vector("contract_sign_input", text))
    open(out + "/sig.der", "wb").write(vector("contract_signature_by_user", text))
    # The signed message is lp(label) || room_id || u64be(version) || hash.
    label = b"CDR-v1 contract sign"
    msg = len(label).to_bytes(4, "big") + label + bytes.fromhex(json.loads(doc)["room_id"]) + \
        (1).to_bytes(8, "big") + hashlib.sha256(doc).digest()
    print("msg-same" if msg == vector("contract_sign_input", text) else "msg-differs")
elif cmd == "reencode":  # reencode FILE: the canonical bytes, then the hash
    doc = open(sys.argv[2], "rb").read()
    again = canon(json.loads(doc.decode("utf-8")))
    print("same" if again == doc else "differs", hashlib.sha256(doc).hexdigest())
elif cmd == "generate":  # generate OUTDIR: py.json and non-canonical variants
    rnd = random.Random(20261207)
    pool = [(0x20, 0x7e), (0xa0, 0x2ff), (0x370, 0x3ff), (0x590, 0x6ff), (0x2000, 0x206f),
            (0x3040, 0x30ff), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xe000, 0xf8ff), (0x1f300, 0x1f64f),
            (0x20000, 0x2a6df), (0x10fff0, 0x10fffd)]
    # PROTOCOL 8.1's name rule, written again from its text: visible
    # text, no space at either end or two in a row.
    refused = [(0x0000, 0x001F), (0x007F, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C),
               (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F),
               (0x2028, 0x202F), (0x205F, 0x206F), (0x3000, 0x3000), (0x3164, 0x3164), (0xE000, 0xF8FF),
               (0xFDD0, 0xFDEF), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB),
               (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF), (0xF0000, 0x10FFFF)]
    def visible(s):
        if s[0] == " " or s[-1] == " " or "  " in s:
            return False
        return not any((ord(c) & 0xFFFE) == 0xFFFE or any(a <= ord(c) <= b for a, b in refused) for c in s)
    def name(i):
        while True:
            s = "".join(chr(rnd.randint(*rnd.choice(pool))) for _ in range(rnd.randint(1, 16))) + "#%d" % i
            if len(s.encode("utf-8")) <= 128 and visible(s):
                return s
    keys = sorted({rnd.randbytes(32).hex() for _ in range(200)})
    roles = ["analyst", "auditor", "provider"]
    members = []
    for i, k in enumerate(keys):
        rs = sorted(rnd.sample(roles, rnd.randint(1, 3)))
        members.append({"key_sha256": k, "name": name(i), "roles": rs})
    doc = {"type": "cdr-contract-1", "room_id": rnd.randbytes(16).hex(), "room_name": name(999),
           "version": 2, "previous_sha256": rnd.randbytes(32).hex(), "ca_sha256": rnd.randbytes(32).hex(),
           "platform": "tdx", "measurements": sorted(rnd.randbytes(48).hex() for _ in range(3)),
           "members": members, "governance": "cdr-gov-1",
           "witnesses": [{"key_sha256": "77" * 32, "url": "https://w.example/a/b"}]}
    out = sys.argv[2]
    open(out + "/py.json", "wb").write(canon(doc))
    print(hashlib.sha256(canon(doc)).hexdigest())
    open(out + "/indent.json", "wb").write(json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False).encode())
    open(out + "/ascii.json", "wb").write(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
    open(out + "/unsorted.json", "wb").write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
    open(out + "/newline.json", "wb").write(canon(doc) + b"\n")
    open(out + "/spaces.json", "wb").write(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode())
EOF

# 1. The vector of PROTOCOL.md 8.8.
out=$(python3 "$T/canon.py" vector "$DOC" "$T")
expect_eq "Python re-encodes the vector document to the same bytes" "$(sed -n 1p <<<"$out")" "same"
read -r pyhash dochash <<<"$(sed -n 2p <<<"$out")"
expect_eq "Python's SHA-256 of the vector document is contract_sha256" "$pyhash" "$dochash"
expect_eq "Python builds the same signed message (lp(label) || room_id || u64be(1) || hash)" "$(sed -n 3p <<<"$out")" "msg-same"
if openssl pkey -pubin -inform DER -in "$T/spki.der" -out "$T/pub.pem" 2>/dev/null &&
   openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.der" "$T/msg.bin" >/dev/null 2>&1; then
  pass "openssl verifies contract_signature_by_user under user_spki"
else
  fail "openssl verifies contract_signature_by_user under user_spki"
fi
printf 'x' >>"$T/msg.bin"
if openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig.der" "$T/msg.bin" >/dev/null 2>&1; then
  fail "openssl refuses the signature over another message"
else
  pass "openssl refuses the signature over another message"
fi

# 2. A document the C library writes.
if "$TOOL" sample 300 >"$T/c.json" 2>"$T/err"; then pass "contract_tool writes a sample"; else fail "contract_tool writes a sample"; cat "$T/err"; fi
grep -q '東京大学' "$T/c.json" && grep -qF 'Zürich \"R&D\"' "$T/c.json" && grep -qF 'a/b\\c' "$T/c.json" \
  && pass "the sample holds raw UTF-8, escaped quotes and backslashes, bare slashes" \
  || fail "the sample holds raw UTF-8, escaped quotes and backslashes, bare slashes"
read -r same pyhash <<<"$(python3 "$T/canon.py" reencode "$T/c.json")"
expect_eq "Python re-encodes the C document byte for byte" "$same" "same"
expect_eq "Python and C agree on the C document's hash" "$pyhash" "$("$TOOL" parse "$T/c.json")"
expect_eq "the C hash is sha256sum's" "$(sha256sum <"$T/c.json" | cut -d' ' -f1)" "$pyhash"

# 3. A document Python writes, and its non-canonical forms.
pyhash=$(python3 "$T/canon.py" generate "$T")
expect_eq "C accepts Python's document and finds the same hash" "$("$TOOL" parse "$T/py.json")" "$pyhash"
for v in indent ascii unsorted newline spaces; do
  got=$("$TOOL" parse "$T/$v.json")
  case "$got" in
    "refused: contract_invalid: contract: not in canonical form"*) pass "C refuses Python's $v form as not canonical" ;;
    *) fail "C refuses Python's $v form as not canonical (got: $got)" ;;
  esac
done
finish
