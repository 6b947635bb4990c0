#!/bin/sh
# An algorithm that always fails, to see poison handling: the item is retried, moved to the
# poison queue after 5 attempts, and reported in the run's failures with this message.
cat >/dev/null
echo "this algorithm always fails" >&2
exit 3
