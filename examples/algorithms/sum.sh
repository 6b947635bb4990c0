#!/bin/sh
# An orca --exec algorithm in POSIX shell: the sum of the numbers in input_data (a JSON number
# or array of numbers) read from stdin; the result JSON on stdout.
#
#   orca dev --exec "sh examples/algorithms/sum.sh"
set -eu
input=$(cat)
printf '%s' "$input" | tr -d '[] \n\t' | awk -F, '
  { for (i = 1; i <= NF; i++) if ($i !~ /^-?[0-9.eE+-]+$/) { print "not a number: " $i > "/dev/stderr"; bad = 1; exit 2 } else s += $i }
  END { if (!bad) printf "%s\n", s + 0 }'
