#!/usr/bin/python3
"""Checks the manifest fixtures and the board manifests against both validators.

valid/*.json and boards/*/gateway.json must pass the JSON Schema and `ipcrt validate` (whose
stderr must equal NAME.expected when that file exists, else be empty). invalid/*.json must make
`ipcrt validate` exit 1 with exactly NAME.expected on stderr, and must fail the schema unless
listed in invalid/SCHEMA_BLIND (rules a schema cannot express).

usage: check_manifests.py IPCRT_BINARY [EMULATOR...]
"""
import glob
import json
import os
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "manifests")


def schema_errors(validator, path):
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except ValueError as error:
        return [f"not JSON: {error}"]
    return [f"{'/' + '/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]


def run_validate(command, path):
    # The fixtures describe a kernel without name-level mediation, so that queue patterns are
    # refused whatever this machine's kernel supports; the mediation suites cover patterns.
    env = dict(os.environ, IPCRT_MEDIATION="off")
    result = subprocess.run(command + ["validate", os.path.basename(path)],
                            cwd=os.path.dirname(path), capture_output=True, text=True, env=env)
    return result.returncode, result.stderr


def expected_stderr(path):
    expected = path[:-len(".json")] + ".expected"
    if not os.path.exists(expected):
        return ""
    with open(expected, encoding="utf-8") as f:
        return f.read()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = sys.argv[2:] + [os.path.abspath(sys.argv[1])]
    with open(os.path.join(ROOT, "config", "manifest.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    with open(os.path.join(FIXTURES, "invalid", "SCHEMA_BLIND"), encoding="utf-8") as f:
        blind = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}

    failures = []
    checked = 0
    valid = sorted(glob.glob(os.path.join(FIXTURES, "valid", "*.json")))
    boards = sorted(glob.glob(os.path.join(ROOT, "boards", "*", "gateway.json")))
    for path in valid + boards:
        checked += 1
        name = os.path.relpath(path, ROOT)
        for error in schema_errors(validator, path):
            failures.append(f"{name}: schema rejects a valid manifest: {error}")
        code, stderr = run_validate(command, path)
        if code != 0 or stderr != expected_stderr(path):
            failures.append(f"{name}: ipcrt validate exited {code} with:\n{stderr}"
                            f"expected exit 0 with:\n{expected_stderr(path)}")
    for path in sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.json"))):
        checked += 1
        name = os.path.relpath(path, ROOT)
        stem = os.path.basename(path)[:-len(".json")]
        if not os.path.exists(path[:-len(".json")] + ".expected"):
            failures.append(f"{name}: missing {stem}.expected")
            continue
        code, stderr = run_validate(command, path)
        if code != 1 or stderr != expected_stderr(path):
            failures.append(f"{name}: ipcrt validate exited {code} with:\n{stderr}"
                            f"expected exit 1 with:\n{expected_stderr(path)}")
        rejected = bool(schema_errors(validator, path))
        if stem in blind and rejected:
            failures.append(f"{name}: listed in SCHEMA_BLIND but the schema rejects it: unlist it")
        elif stem not in blind and not rejected:
            failures.append(f"{name}: the schema accepts an invalid manifest")

    for failure in failures:
        print("FAIL", failure, file=sys.stderr)
    print(f"{checked} manifests checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
