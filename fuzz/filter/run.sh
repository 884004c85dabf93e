#!/usr/bin/env bash
# Fuzzes the filter parser/evaluator with libFuzzer for N seconds (default 60).
# Usage: fuzz/filter/run.sh [seconds]   Crashes and the corpus go to fuzz-out/filter/.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
core="$root/Sources/PushPolicy/Filter"
out="$root/fuzz-out/filter"
mkdir -p "$out/corpus"
# Core files only: the harness must not need PushContract or the rest of PushPolicy.
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name FilterFuzz \
    "$core/FilterSyntaxError.swift" "$core/FilterVariable.swift" "$core/FilterToken.swift" \
    "$core/FilterRegex.swift" "$core/FilterParser.swift" "$core/FilterExpression.swift" \
    "$root/fuzz/filter/FilterFuzz.swift" -o "$out/filter-fuzz"
# Seeds: a few real filters, so mutations start from the grammar.
seeds=(
    "from.uri.domain contains 'sip.linphone.org'"
    "(to.uri.domain in 'a.org b.org c.org') && (user-agent == 'Linphone v2')"
    "!(request.method == 'MESSAGE') || is_request && defined contact.uri.user"
    "user-agent regex '(a|b)*[^x-z]{2,5}\\\\d+' && numeric to.uri.user && call-id.hash nin '1 2'"
)
for n in "${!seeds[@]}"; do printf '%s' "${seeds[$n]}" > "$out/corpus/seed$n"; done
cd "$out"
./filter-fuzz -max_len=512 -max_total_time="$seconds" -timeout=5 -print_final_stats=1 corpus
