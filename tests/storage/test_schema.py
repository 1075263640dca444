#!/usr/bin/env python3
"""Validate every NDJSON line the JSON sink writes against
docs/connection.schema.json.  Usage: test_schema.py JSON_SAMPLE_EXE SCHEMA
Exits 77 (meson: skipped) when the jsonschema module is not installed."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("python3 jsonschema module missing: skipped")
    sys.exit(77)


def main():
    exe, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "sample.ndjson")
        subprocess.run([exe, out, "500"], check=True)
        with open(out, encoding="utf-8") as f:
            lines = f.read().splitlines()
    assert len(lines) == 501, len(lines)
    bad = 0
    for n, line in enumerate(lines, 1):
        obj = json.loads(line)
        for err in validator.iter_errors(obj):
            bad += 1
            print(f"line {n}: {err.json_path}: {err.message}")
    # The schema must also reject what the sinks never write.
    good = json.loads(lines[0])
    for key, value in (("open_kind", "bogus"), ("client_final_state", "SYN_SENT"),
                       ("vlan", -1), ("tfo", True), ("id", "1")):
        broken = dict(good, **{key: value})
        if validator.is_valid(broken):
            bad += 1
            print(f"schema accepts {key}={value!r}")
    extra = dict(good, surprise=1)
    if validator.is_valid(extra):
        bad += 1
        print("schema accepts an unknown key")
    missing = dict(good)
    del missing["zeek_history"]
    if validator.is_valid(missing):
        bad += 1
        print("schema accepts a line without zeek_history")
    print(f"{len(lines)} lines checked, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
