#!/usr/bin/env bash
# test_cli_docs.sh - cdr's man pages and shell completion (generated from
# its --help at build time by scripts/gen-cli-docs.sh): the bash script
# loads and completes commands, subcommands, options and --format values;
# the zsh script parses and registers; every man page renders without a
# groff warning.  test_install.sh checks that `make install` installs them.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR=$(cd "$CDR_BIN_DIR/.." && pwd)
DOCS="$BUILD_DIR/cli-docs"
[ -f "$DOCS/completion/cdr.bash" ] && pass "the bash completion was generated" || fail "no $DOCS/completion/cdr.bash"
[ -f "$DOCS/completion/_cdr" ] && pass "the zsh completion was generated" || fail "no $DOCS/completion/_cdr"

# complete WORDS...: what the bash completion offers for the last word.
complete_words() {
  PATH="$CDR_BIN_DIR:$PATH" bash --norc --noprofile -c '
    . /usr/share/bash-completion/bash_completion 2>/dev/null
    . "$1" || exit 3
    shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    complete -p cdr >/dev/null || exit 4
    _cdr cdr "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$DOCS/completion/cdr.bash" "$@"
}
expect_eq "bash: cdr qu<TAB>" "$(complete_words cdr qu)" "query"
expect_eq "bash: cdr pro<TAB>" "$(complete_words cdr pro)" "profile"
expect_eq "bash: cdr room inv<TAB>" "$(complete_words cdr room inv | tr '\n' ' ')" "invite invites "
expect_eq "bash: cdr query --form<TAB>" "$(complete_words cdr query --form)" "--format"
expect_eq "bash: cdr tables --format <TAB>" "$(complete_words cdr tables --format '' | tr '\n' ' ')" "table csv json "
expect_eq "bash: cdr room invites R --ca<TAB>" "$(complete_words cdr room invites R --ca)" "--cancel"
expect_eq "bash: cdr upload --del<TAB>" "$(complete_words cdr upload --del)" "--delimiter"
expect_eq "bash: cdr witness s<TAB>" "$(complete_words cdr witness s)" "serve"
expect_eq "bash: cdr witness serve --allow<TAB>" "$(complete_words cdr witness serve --allow)" "--allow-sim"
# profile names come from `cdr profile list`
mkdir -p "$CDR_CONFIG_DIR/profiles"
echo '{"url":"http://127.0.0.1:1","key":"/k","cert":"/c","ca":"/a","room_id":"00000000000000000000000000000000"}' \
  >"$CDR_CONFIG_DIR/profiles/alpha.json"
expect_eq "bash: cdr profile use al<TAB>" "$(complete_words cdr profile use al)" "alpha"

zsh -n "$DOCS/completion/_cdr" && pass "the zsh completion parses" || fail "the zsh completion parses"
# Loaded through compinit as zsh loads an installed one, it is registered for cdr.
mkdir -p "$T/zfunc" && cp "$DOCS/completion/_cdr" "$T/zfunc/"
got=$(HOME=$T zsh -f -c "fpath=($T/zfunc \$fpath); autoload -Uz compinit; compinit -u -d $T/zcompdump; print -r -- \$_comps[cdr]" 2>&1)
expect_eq "zsh: compinit registers _cdr for cdr" "$got" "_cdr"
grep -q "'profile:list the saved profiles" "$DOCS/completion/_cdr" && pass "zsh: commands with their summaries" \
  || fail "zsh: commands with their summaries"

n=0
for page in "$DOCS"/man1/*.1; do
  n=$((n + 1))
  warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$warn" ] || fail "$(basename "$page") renders with warnings: $warn"
done
[ "$n" -ge 15 ] && pass "$n man pages, one per command and cdr(1)" || fail "only $n man pages"
MANWIDTH=80 man -l "$DOCS/man1/cdr-query.1" 2>"$T/man.err" >"$T/man.out"
grep -q -- "--format table|csv|json" "$T/man.out" && pass "man -l renders cdr-query(1) from its --help" \
  || fail "cdr-query(1): $(head -5 "$T/man.out")"
[ ! -s "$T/man.err" ] && pass "man -l prints no warning" || fail "man -l: $(cat "$T/man.err")"
MANWIDTH=80 man -l "$DOCS/man1/cdr.1" 2>/dev/null | grep -Eq "verification +failed" \
  && pass "cdr(1) documents the exit statuses" || fail "cdr(1) documents the exit statuses"

finish
