#!/usr/bin/env bash
# gen-cli-docs.sh CDR OUTDIR - the man pages and the shell completion of
# `cdr`, generated from its own --help texts, so that they never disagree
# with the program:
#   OUTDIR/man1/cdr.1, OUTDIR/man1/cdr-COMMAND.1   help2man (Debian's)
#   OUTDIR/completion/cdr.bash                     bash (complete -F)
#   OUTDIR/completion/_cdr                         zsh (#compdef)
# The commands are the "Commands:" section of `cdr --help`; each command's
# options are the --long names its `cdr COMMAND --help` shows; `room`,
# `profile`, `witness` and `template` take the subcommands their help lists.  Run by the build (the
# cli-docs target) and installed by `make install`.
set -euo pipefail

CDR=$1
OUT=$2
export LC_ALL=C
mkdir -p "$OUT/man1" "$OUT/completion"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

VERSION=$("$CDR" --version | head -n 1 | awk '{print $2}')
# The command names and summaries, from the top-level help.
"$CDR" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on {print}' >"$TMP/commands"
COMMANDS=$(awk '{print $1}' "$TMP/commands")
[ -n "$COMMANDS" ] || { echo "gen-cli-docs: no commands in cdr --help" >&2; exit 1; }

# ---- man pages ----
h2m() { # h2m PROGRAM NAME OUTFILE [extra help2man args]
  local prog=$1 name=$2 outf=$3; shift 3
  help2man --no-info --no-discard-stderr --version-string="$VERSION" --name="$name" \
    --section=1 --source="CDR $VERSION" --manual="CDR manual" "$@" --output="$outf" "$prog"
}
cat >"$TMP/see-also" <<EOF
[see also]
.BR cdr (1)
and docs/CLI.md in the CDR sources.
EOF
h2m "$CDR" "Confidential Data Room client and administration" "$OUT/man1/cdr.1"
while read -r cmd summary; do
  # help2man runs PROGRAM --help and --version: a wrapper per command.
  cat >"$TMP/cdr-$cmd" <<EOF
#!/bin/sh
case "\$1" in --version) exec "$CDR" --version ;; esac
exec "$CDR" $cmd "\$@"
EOF
  chmod +x "$TMP/cdr-$cmd"
  h2m "$TMP/cdr-$cmd" "$summary" "$OUT/man1/cdr-$cmd.1" --include="$TMP/see-also"
done <"$TMP/commands"

# ---- completion ----
# Long options of one command, from its --help (one line, sorted).
opts_of() { # the options a --help defines: the lines that start with one
  "$CDR" "$@" --help 2>/dev/null | grep -oE -- '^ +(-[A-Za-z], +)?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' |
    sort -u | tr '\n' ' '
}
subs_of() { # the subcommands a --help lists under "Commands:"
  "$CDR" "$1" --help | awk '/^Commands:/ {on = 1; next} on && /^$/ {exit} on && /^  [a-z]/ {print $1}' | tr '\n' ' '
}
GLOBAL="--quiet --help --version"

{
  echo "# bash completion for cdr, generated from its --help by scripts/gen-cli-docs.sh."
  echo "_cdr_profiles() { cdr profile list --format csv 2>/dev/null | tail -n +2 | cut -d, -f2 | tr -d '\\r'; }"
  echo "_cdr() {"
  echo '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= sub= i opts= subs='
  echo '  for ((i = 1; i < COMP_CWORD; i++)); do'
  echo '    case ${COMP_WORDS[i]} in'
  echo '    -*) ;;'
  echo '    *) if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}; elif [ -z "$sub" ]; then sub=${COMP_WORDS[i]}; fi ;;'
  echo '    esac'
  echo '  done'
  echo '  case $prev in'
  echo '  --format | -f) COMPREPLY=($(compgen -W "table csv json" -- "$cur")); return ;;'
  echo '  --profile | -p) COMPREPLY=($(compgen -W "$(_cdr_profiles)" -- "$cur")); return ;;'
  echo '  esac'
  echo '  if [ -z "$cmd" ]; then'
  echo "    COMPREPLY=(\$(compgen -W \"$(echo $COMMANDS) $GLOBAL\" -- \"\$cur\"))"
  echo '    return'
  echo '  fi'
  echo '  case $cmd in'
  for c in $COMMANDS; do
    case $c in
    room | profile | witness | template) echo "  $c) opts=\"$(opts_of "$c")--quiet\" subs=\"$(subs_of "$c")\" ;;" ;;
    *) echo "  $c) opts=\"$(opts_of "$c")--quiet\" ;;" ;;
    esac
  done
  echo '  esac'
  echo '  if [ "$cmd" = room ] && [ -n "$sub" ]; then'
  echo '    case $sub in'
  for s in $(subs_of room); do echo "    $s) opts=\"$(opts_of room "$s")--quiet\" ;;"; done
  echo '    esac'
  echo '  fi'
  echo '  if [ "$cmd" = witness ] && [ "$sub" = serve ]; then'
  echo "    opts=\"$(opts_of witness serve)--quiet\""
  echo '  fi'
  echo '  if [[ $cur == -* ]]; then'
  echo '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))'
  echo '  elif [ -n "$subs" ] && [ -z "$sub" ]; then'
  echo '    COMPREPLY=($(compgen -W "$subs" -- "$cur"))'
  echo '  elif [ "$cmd" = profile ] && { [ "$sub" = use ] || [ "$sub" = show ]; }; then'
  echo '    COMPREPLY=($(compgen -W "$(_cdr_profiles)" -- "$cur"))'
  echo '  else'
  echo '    COMPREPLY=($(compgen -f -- "$cur"))'
  echo '  fi'
  echo '}'
  echo 'complete -o filenames -F _cdr cdr'
} >"$OUT/completion/cdr.bash"

{
  echo "#compdef cdr"
  echo "# zsh completion for cdr, generated from its --help by scripts/gen-cli-docs.sh."
  echo "_cdr() {"
  echo "  local -a commands opts subs"
  echo "  commands=("
  while read -r cmd summary; do
    printf "    '%s:%s'\n" "$cmd" "$(printf '%s' "$summary" | sed "s/'/'\\\\''/g; s/:/\\\\:/g")"
  done <"$TMP/commands"
  echo "  )"
  echo "  if (( CURRENT == 2 )); then"
  echo "    _describe -t commands 'cdr command' commands"
  echo "    compadd -- $GLOBAL"
  echo "    return"
  echo "  fi"
  echo '  case ${words[CURRENT-1]} in'
  echo "  --format|-f) compadd -- table csv json; return ;;"
  echo "  --profile|-p) compadd -- \${(f)\"\$(cdr profile list --format csv 2>/dev/null | tail -n +2 | cut -d, -f2)\"}; return ;;"
  echo "  esac"
  echo '  case ${words[2]} in'
  for c in $COMMANDS; do
    case $c in
    room | profile | witness | template) echo "  $c) opts=($(opts_of "$c")--quiet); subs=($(subs_of "$c")) ;;" ;;
    *) echo "  $c) opts=($(opts_of "$c")--quiet) ;;" ;;
    esac
  done
  echo "  esac"
  echo '  if [[ ${words[CURRENT]} == -* ]]; then'
  echo '    compadd -- $opts'
  echo '  elif (( CURRENT == 3 && ${#subs} > 0 )); then'
  echo '    compadd -- $subs'
  echo '  else'
  echo '    _files'
  echo '  fi'
  echo "}"
  echo 'if [ "$funcstack[1]" = "_cdr" ]; then _cdr "$@"; else compdef _cdr cdr; fi'
} >"$OUT/completion/_cdr"
