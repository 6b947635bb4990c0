#!/bin/sh
# A long-lived orca algorithm in POSIX shell and awk (--exec-mode stream): the sum of the
# numbers in each item's input_data. One JSON line per item arrives on stdin,
#   {"input_id":3,"instance_id":"...","input_data":[1,2]}
# (input_data last, on one line); one line goes back per item on stdout: {"result":3}, or
# {"error":"why"} to fail that item only. awk runs once for the whole stream.
#
#   orca dev --exec "sh examples/algorithms/stream_sum.sh" --exec-mode stream
#
# A streamed algorithm must answer each line as it comes. mawk (Debian's awk) reads its input a
# block at a time and would wait for more items before answering the first: -W interactive
# makes it read line by line (gawk and busybox awk do already).
interactive=
case $(awk -W version 2>&1) in mawk*) interactive="-W interactive" ;; esac
# shellcheck disable=SC2086 # $interactive is two words or none
exec awk $interactive '
{
	data = substr($0, index($0, "\"input_data\":") + 13)
	sub(/}[ \t\r]*$/, "", data)
	gsub(/[][ \t]/, "", data)
	n = split(data, xs, ",")
	s = 0; bad = ""
	for (i = 1; i <= n; i++) {
		if (xs[i] !~ /^-?[0-9.eE+-]+$/) { bad = xs[i]; break }
		s += xs[i]
	}
	if (bad != "") { gsub(/["\\]/, "", bad); printf "{\"error\":\"not a number: %s\"}\n", bad }
	else printf "{\"result\":%s}\n", s + 0
	fflush()
}'
