#!/usr/bin/env bash
# Checks schemas/examples against schemas/*.schema.json with check-jsonschema:
# every examples/<type>/valid/*.json must pass <type>.schema.json and every
# examples/<type>/invalid/*.json must fail it. One line per mismatch, then
# "schemas: N passed, M failed"; exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/../schemas"

if ! command -v check-jsonschema >/dev/null 2>&1; then
    python3 -m pip install -q check-jsonschema >&2
fi

shopt -s nullglob
passed=0
failed=0
for dir in examples/*/; do
    type=$(basename "$dir")
    schema="$type.schema.json"
    if [[ ! -f "$schema" ]]; then
        echo "FAIL $dir: no schema $schema"
        failed=$((failed + 1))
        continue
    fi
    files=("$dir"valid/*.json "$dir"invalid/*.json)
    if [[ ${#files[@]} -eq 0 ]]; then
        echo "FAIL $dir: no examples"
        failed=$((failed + 1))
        continue
    fi
    # One run per type; the JSON report says which files were rejected and why.
    report=$(check-jsonschema -o json --schemafile "$schema" "${files[@]}" || true)
    result=$(python3 - "$report" "${files[@]}" <<'PY'
import json, sys
report = json.loads(sys.argv[1])
rejected = {}
for error in report.get("errors", []) + report.get("parse_errors", []):
    rejected.setdefault(error.get("filename"), error.get("message", "rejected"))
ok = bad = 0
for path in sys.argv[2:]:
    expect_valid = "/valid/" in path
    was_rejected = path in rejected
    if expect_valid and was_rejected:
        print(f"FAIL {path}: valid example rejected: {rejected[path]}")
        bad += 1
    elif not expect_valid and not was_rejected:
        print(f"FAIL {path}: invalid example accepted")
        bad += 1
    else:
        ok += 1
print(f"COUNTS {ok} {bad}")
PY
)
    while IFS= read -r line; do
        if [[ $line == COUNTS* ]]; then
            read -r _ ok bad <<<"$line"
            passed=$((passed + ok))
            failed=$((failed + bad))
        else
            echo "$line"
        fi
    done <<<"$result"
done

echo "schemas: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
