"""A strict parser for the Prometheus text exposition format (version 0.0.4).

Strict on purpose: a malformed line raises ValueError, so a test that parses /metrics also checks
that what sluice exposes is well formed.
"""

import math
import re

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(" + _NAME + r")(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')
_HELP_TYPE = re.compile(r"^# (HELP|TYPE) (" + _NAME + r")(?: (.*))?$")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        c = v[i]
        if c == "\\" and i + 1 < len(v):
            n = v[i + 1]
            out.append({"n": "\n", "\\": "\\", '"': '"'}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(text, line):
    labels = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise ValueError(f"malformed labels in metrics line: {line!r}")
        name = m.group(1)
        if name in labels:
            raise ValueError(f"duplicate label {name} in metrics line: {line!r}")
        labels[name] = _unescape(m.group(2))
        pos = m.end()
    return labels


def _parse_value(v, line):
    if v in ("+Inf", "Inf"):
        return math.inf
    if v == "-Inf":
        return -math.inf
    if v == "NaN":
        return math.nan
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"malformed value in metrics line: {line!r}") from None


class Metrics:
    """Parsed samples: {(name, frozenset(labels.items())): value}, plus HELP and TYPE."""

    def __init__(self, text):
        self.samples = {}
        self.types = {}
        self.help = {}
        for raw in text.splitlines():
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            if line.startswith("#"):
                m = _HELP_TYPE.match(line)
                if m:
                    kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
                    if kind == "TYPE":
                        if rest not in _TYPES:
                            raise ValueError(f"unknown metric type in line: {line!r}")
                        self.types[name] = rest
                    else:
                        self.help[name] = rest
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise ValueError(f"malformed metrics line: {line!r}")
            name, labels = m.group(1), _parse_labels(m.group(2) or "", line)
            key = (name, frozenset(labels.items()))
            if key in self.samples:
                raise ValueError(f"duplicate sample in metrics: {line!r}")
            self.samples[key] = _parse_value(m.group(3), line)

    def series(self, name, **labels):
        """[(labels dict, value)] of every sample `name` whose labels include `labels`."""
        want = set(labels.items())
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name and want <= k[1]]

    def value(self, name, default=0.0, **labels):
        """Sum of the samples `name` whose labels include `labels`; `default` when none match."""
        found = self.series(name, **labels)
        return sum(v for _, v in found) if found else default

    def names(self):
        return {k[0] for k in self.samples}
