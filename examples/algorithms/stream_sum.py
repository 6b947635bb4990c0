#!/usr/bin/env python3
"""A long-lived orca algorithm in Python (--exec-mode stream): the seeds' demo computation.

orca's worker starts this once per slot and streams items to it: one JSON line per item on
stdin, {"input_id": 3, "instance_id": "...", "input_data": [1, 2]}, and one JSON line back per
item on stdout, {"result": 3} or {"error": "why"}. Anything on stderr goes to the worker's log.
Load models, open connections and warm caches once, before the loop: that is what this mode is
for. The stream ends when stdin does.

    orca dev --exec "python3 examples/algorithms/stream_sum.py" --exec-mode stream
"""
import json
import sys


def compute(data):
    if isinstance(data, (int, float)):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(x, (int, float)) for x in data):
        raise ValueError(f"input_data must be a number or a list of numbers, got {data!r}")
    return sum(data)


def main() -> int:
    for line in sys.stdin:
        item = json.loads(line)
        try:
            answer = {"result": compute(item["input_data"])}
        except ValueError as e:
            answer = {"error": str(e)}  # this item fails; the process goes on
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()  # one answer per item, at once: the worker waits for it
    return 0


if __name__ == "__main__":
    sys.exit(main())
