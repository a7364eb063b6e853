#!/usr/bin/perl
# checksrc.pl - the source checker that keeps CDR's house in shape.
# curl's checksrc is the model: it runs in the build (`make test` has it
# as the ctest test "checksrc"), reads C as text, and names the file and
# line of every fault it finds.  It checks, for every .c and .h file under
# ROOT/src:
#
#   include   an #include "x/y.h" of a folder that the table below does
#             not allow this file's folder to include, an include written
#             with "../", or a local include "y.h" naming no file of the
#             same folder;
#   cycle     a cycle between .c files through the functions they call:
#             a.c calls a function defined in b.c, and b.c (directly or
#             through other files) calls one defined in a.c;
#   length    a file over MAX_FILE_LINES lines, a function over
#             MAX_FUNC_LINES (from the first line of its head to the
#             closing brace);
#   banned    a call of a libc function that is easy to get wrong.
#
# Usage: perl scripts/checksrc.pl [--root DIR]     (default: this repo)
# Exit: 0 clean, 1 faults found (one per line, "file:line: kind: text"),
# 2 usage or I/O error.  tests/checksrc/ holds a fixture tree with one
# fault of each kind and the test that proves each is caught; it lives
# outside src/ and so never counts against the real tree.
use strict;
use warnings;

my $MAX_FILE_LINES = 800;
my $MAX_FUNC_LINES = 150;

# The allowed include graph: each folder of src/ and the folders it may
# include besides itself.  A new folder gets a row of its own here.
my %ALLOWED = (
  common  => [],
  crypto  => [qw(common)],
  ipc     => [qw(common)],
  attest  => [qw(common)],
  enclave => [qw(ipc crypto common)],
  host    => [qw(ipc crypto common room)],
  room    => [qw(crypto common)],
  client  => [qw(crypto attest common)],
  cli     => [qw(client room attest crypto common)],
  # the history witness: cdrd's HTTP layer (host/http.h only), the
  # client's attestation verifier (client/client.h) and the contract library
  witness => [qw(host client attest crypto common)],
);

my @BANNED = qw(sprintf vsprintf strcpy strcat strncpy strtok gets atoi atol sscanf rand);

my $root = '.';
while (@ARGV) {
  my $a = shift @ARGV;
  if ($a eq '--root' && @ARGV) { $root = shift @ARGV; }
  elsif ($a eq '--help' || $a eq '-h') { print usage(); exit 0; }
  else { print STDERR usage(); exit 2; }
}
sub usage { return "usage: perl scripts/checksrc.pl [--root DIR]\n" }

my $src = "$root/src";
-d $src or do { print STDERR "checksrc: no folder $src\n"; exit 2; };

my @files = list_sources($src);
my @faults;
sub fault { my ($f, $l, $kind, $text) = @_; push @faults, "src/$f:$l: $kind: $text"; }

my (%defs, %code);   # function name => [files defining it non-static]; file => stripped text
for my $rel (@files) {
  my $text = read_file("$src/$rel");
  my @lines = split /\n/, $text, -1;
  pop @lines if @lines && $lines[-1] eq '';
  fault($rel, scalar(@lines), 'length', "file has " . scalar(@lines) . " lines (at most $MAX_FILE_LINES)")
    if @lines > $MAX_FILE_LINES;
  my $stripped = strip_c($text);
  $code{$rel} = $stripped;
  check_includes($rel, \@lines);
  check_banned($rel, $stripped);
  for my $fn (functions($stripped)) {
    my ($name, $first, $last, $static) = @$fn;
    my $n = $last - $first + 1;
    fault($rel, $first, 'length', "function $name has $n lines (at most $MAX_FUNC_LINES)") if $n > $MAX_FUNC_LINES;
    push @{$defs{$name}}, $rel if !$static && $rel =~ /\.c$/;
  }
}
check_cycles();

print "$_\n" for @faults;
if (@faults) {
  printf "checksrc: %d fault%s in %d files\n", scalar(@faults), @faults == 1 ? '' : 's', scalar(@files);
  exit 1;
}
printf "checksrc: %d files clean\n", scalar(@files);
exit 0;

# ---- the checks ----

sub check_includes {
  my ($rel, $lines) = @_;
  my ($dir) = $rel =~ m{^([^/]+)/} or return;
  my %ok = map { $_ => 1 } ($dir, @{$ALLOWED{$dir} || []});
  fault($rel, 1, 'include', "folder src/$dir has no row in the include table") unless exists $ALLOWED{$dir};
  for my $i (0 .. $#$lines) {
    next unless $lines->[$i] =~ /^\s*#\s*include\s*"([^"]+)"/;
    my $inc = $1;
    if ($inc =~ m{(^|/)\.\./}) {
      fault($rel, $i + 1, 'include', "\"$inc\" is written with ../ (name it from src/: \"folder/file.h\")");
    } elsif ($inc =~ m{^([^/]+)/}) {
      my $to = $1;
      fault($rel, $i + 1, 'include', "src/$dir may not include $to/ (\"$inc\"); allowed: " .
            join(', ', sort keys %ok)) unless $ok{$to};
    } elsif (!-f "$src/$dir/$inc") {
      fault($rel, $i + 1, 'include', "\"$inc\" is no file of src/$dir");
    }
  }
}

sub check_banned {
  my ($rel, $code) = @_;
  my $re = join '|', @BANNED;
  my $line = 1;
  for my $l (split /\n/, $code, -1) {
    while ($l =~ /(?<![\w.>])($re)\s*\(/g) {
      fault($rel, $line, 'banned', "$1() is banned (use the bounded or checked form)");
    }
    $line++;
  }
}

# Cycles among .c files through calls: an edge a.c -> b.c for each
# identifier a.c uses that names a function defined (not static) in b.c
# alone.  A name a.c defines itself, or that two files define (main, or
# one per binary), makes no edge.
sub check_cycles {
  my (%edge, %why);
  for my $a (grep { /\.c$/ } @files) {
    my %own;
    $own{$_->[0]} = 1 for functions($code{$a});
    my $line = 1;
    for my $l (split /\n/, $code{$a}, -1) {
      while ($l =~ /\b([A-Za-z_]\w*)\b/g) {
        my $id = $1;
        next if $own{$id} || !$defs{$id} || @{$defs{$id}} != 1;
        my $b = $defs{$id}[0];
        next if $b eq $a;
        $edge{$a}{$b} = 1;
        $why{$a}{$b} //= "$id (line $line)";
      }
      $line++;
    }
  }
  # Tarjan's strongly connected components.
  my ($index, @stack, %idx, %low, %on) = (0);
  my @sccs;
  my $visit;
  $visit = sub {
    my ($v) = @_;
    $idx{$v} = $low{$v} = $index++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (sort keys %{$edge{$v} || {}}) {
      if (!exists $idx{$w}) { $visit->($w); $low{$v} = $low{$w} if $low{$w} < $low{$v}; }
      elsif ($on{$w}) { $low{$v} = $idx{$w} if $idx{$w} < $low{$v}; }
    }
    if ($low{$v} == $idx{$v}) {
      my @c;
      while (1) { my $w = pop @stack; $on{$w} = 0; push @c, $w; last if $w eq $v; }
      push @sccs, [sort @c] if @c > 1;
    }
  };
  $visit->($_) for grep { !exists $idx{$_} } sort grep { /\.c$/ } @files;
  undef $visit;
  for my $c (@sccs) {
    my %in = map { $_ => 1 } @$c;
    my @why;
    for my $a (@$c) {
      for my $b (sort keys %{$edge{$a}}) {
        push @why, "$a -> $b: $why{$a}{$b}" if $in{$b};
      }
    }
    fault($c->[0], 1, 'cycle', "files call each other: " . join('; ', @why));
  }
}

# ---- reading C as text ----

# The function definitions of stripped text: [name, first line, last line,
# static] for each "head(...) {" at brace depth 0 that is not a struct,
# union or enum body or an initializer.
sub functions {
  my ($t) = @_;
  my @out;
  my ($depth, $line, $head, $head_line, $cur) = (0, 1, '', 0, undef);
  for my $ch (split //, $t) {
    if ($ch eq "\n") { $line++; $head .= ' ' if $depth == 0; next; }
    if ($depth == 0) {
      if ($ch eq '{') {
        my $h = $head;
        $h =~ s/^\s+//;
        if ($h =~ /\)\s*(__attribute__\s*\(\(.*\)\)\s*)*$/ && $h !~ /=/ && $h !~ /^(typedef\s+)?(struct|union|enum)\b[^(]*$/
            && $h =~ /([A-Za-z_]\w*)\s*\(/) {
          my $name = $1;
          my $static = $h =~ /^(static|inline|static\s+inline)\b/ ? 1 : 0;
          $cur = [$name, $head_line, 0, $static];
        } else {
          $cur = undef;
        }
        $depth = 1;
        $head = '';
        next;
      }
      if ($ch eq ';' || $ch eq '}') { $head = ''; next; }
      $head_line = $line if $head =~ /^\s*$/ && $ch =~ /\S/;
      $head .= $ch;
      next;
    }
    if ($ch eq '{') { $depth++; }
    elsif ($ch eq '}') {
      $depth--;
      if ($depth == 0) {
        if ($cur) { $cur->[2] = $line; push @out, $cur; }
        $cur = undef;
        $head = '';
      }
    }
  }
  return @out;
}

# Comments, string and character literals and preprocessor lines blanked
# (newlines kept, so line numbers hold).
sub strip_c {
  my ($t) = @_;
  my $out = '';
  my $n = length $t;
  my $i = 0;
  my $bol = 1;
  while ($i < $n) {
    my $c = substr($t, $i, 1);
    my $two = substr($t, $i, 2);
    if ($bol && $c eq '#') {
      # a preprocessor line, with its continuations
      while ($i < $n) {
        my $d = substr($t, $i, 1);
        if ($d eq "\\" && substr($t, $i + 1, 1) eq "\n") { $out .= "\n"; $i += 2; next; }
        last if $d eq "\n";
        $i++;
      }
      next;
    }
    if ($two eq '/*') {
      my $e = index($t, '*/', $i + 2);
      $e = $n - 2 if $e < 0;
      my $body = substr($t, $i, $e + 2 - $i);
      $out .= "\n" x ($body =~ tr/\n//);
      $out .= ' ';
      $i = $e + 2;
      $bol = 0;
      next;
    }
    if ($two eq '//') {
      my $e = index($t, "\n", $i);
      $e = $n if $e < 0;
      $i = $e;
      next;
    }
    if ($c eq '"' || $c eq "'") {
      my $j = $i + 1;
      while ($j < $n) {
        my $d = substr($t, $j, 1);
        if ($d eq "\\") { $j += 2; next; }
        last if $d eq $c || $d eq "\n";
        $j++;
      }
      $out .= $c . $c;
      $i = $j + 1;
      $bol = 0;
      next;
    }
    $out .= $c;
    $bol = $c eq "\n" ? 1 : ($bol && $c =~ /[ \t]/);
    $i++;
  }
  return $out;
}

sub list_sources {
  my ($dir) = @_;
  my @out;
  my @todo = ('');
  while (@todo) {
    my $d = shift @todo;
    opendir(my $dh, $d eq '' ? $dir : "$dir/$d") or die "checksrc: cannot read $dir/$d: $!\n";
    for my $e (sort readdir $dh) {
      next if $e =~ /^\./;
      my $rel = $d eq '' ? $e : "$d/$e";
      if (-d "$dir/$rel") { push @todo, $rel; }
      elsif ($e =~ /\.[ch]$/) { push @out, $rel; }
    }
    closedir $dh;
  }
  return sort @out;
}

sub read_file {
  my ($p) = @_;
  open(my $fh, '<', $p) or die "checksrc: cannot read $p: $!\n";
  local $/;
  my $t = <$fh>;
  close $fh;
  return $t;
}
