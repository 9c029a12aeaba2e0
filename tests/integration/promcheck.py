# SPDX-License-Identifier: MIT
"""A strict reader of the Prometheus text exposition format (0.0.4), for the
metrics file: every line must be a HELP, TYPE, comment or sample line; names and
labels well-formed; TYPE before the samples it types and once; a metric's samples
together; no series twice; counters named *_total; the file ends in a newline.
Prints {series: value} as JSON, or one line on stderr and exit 1."""
import json
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL}(?:,{LABEL})*,?)?\}})? (\S+)(?: (-?[0-9]+))?$")
VALUE = re.compile(r"^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)$")


def check(text):
    if not text.endswith("\n"):
        raise ValueError("does not end in a newline")
    types, helps, series, done, current = {}, set(), {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError(f"{where}: unknown type")
                if name in types:
                    raise ValueError(f"{where}: second TYPE")
                if name in done or name == current:
                    raise ValueError(f"{where}: TYPE after samples")
                if rest == "counter" and not name.endswith("_total"):
                    raise ValueError(f"{where}: counter not named *_total")
                types[name] = rest
            else:
                if name in helps:
                    raise ValueError(f"{where}: second HELP")
                helps.add(name)
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"{where}: not a sample line")
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if not VALUE.match(value):
            raise ValueError(f"{where}: bad value")
        if name != current:
            if name in done:
                raise ValueError(f"{where}: samples of {name} not together")
            if current:
                done.add(current)
            current = name
        if name not in types:
            raise ValueError(f"{where}: no TYPE before the sample")
        key = name + labels
        if key in series:
            raise ValueError(f"{where}: series twice")
        series[key] = float(value)
    if not series:
        raise ValueError("no samples")
    return series


if __name__ == "__main__":
    try:
        print(json.dumps(check(open(sys.argv[1]).read())))
    except (ValueError, OSError) as e:
        print(f"promcheck: {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(1)
