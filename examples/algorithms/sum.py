#!/usr/bin/env python3
"""An orca --exec algorithm in Python: the seeds' demo computation.

orca's worker runs this once per item: the item's input_data JSON arrives on stdin, the result
JSON goes to stdout, anything on stderr goes to the worker's log. A non-zero exit fails the item;
the end of stderr becomes the failure's reason.

    orca dev --exec "python3 examples/algorithms/sum.py"
"""
import json
import sys


def main() -> int:
    data = json.load(sys.stdin)
    if isinstance(data, (int, float)):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(x, (int, float)) for x in data):
        print(f"input_data must be a number or a list of numbers, got {data!r}", file=sys.stderr)
        return 2
    json.dump(sum(data), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
