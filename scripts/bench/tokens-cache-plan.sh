#!/usr/bin/env bash
# Section "tokens-cache-plan": what the prompt-cache plan costs. `batchkit tokens` on a 1 GB
# chat file with shared system prompts (scripts/gen_cache_bench.py: four shared prompts, one
# under the 1,024-token minimum) with the plan (the default) and with --no-cache-plan, on all
# cores and on one thread, alternating, three runs each; the median of each.
# Target: the plan costs at most 15% more wall time; peak RSS within the 256 MiB default budget.
# Run through scripts/bench.sh, which sets BK DATA OUT.

# shellcheck source=scripts/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F=$DATA/cache-1g.jsonl
if [ ! -s "$F" ]; then
  python3 "$ROOT/scripts/gen_cache_bench.py" "$F.tmp" 1000000000 >/dev/null
  mv "$F.tmp" "$F"
fi
bytes=$(file_bytes "$F")
cat "$F" >/dev/null

table_header "tokens cost plan: cache-1g.jsonl ($bytes bytes, $(wc -l <"$F") gpt-5-mini requests with shared prompts)"

declare -A runs
for round in 1 2 3; do
  for threads in all 1; do
    targs=()
    [ "$threads" = 1 ] && targs=(--threads 1)
    for plan in on off; do
      pargs=()
      [ "$plan" = off ] && pargs=(--no-cache-plan)
      measure "tokens, plan $plan, threads $threads (run $round)" "$bytes" \
        "$BK" --format json --progress never tokens "${targs[@]}" "${pargs[@]}" "$F"
      runs[$threads-$plan]+="$LAST_SECS "
    done
  done
done

median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" $1; }
for threads in all 1; do
  on=$(median "${runs[$threads-on]}")
  off=$(median "${runs[$threads-off]}")
  python3 -c "on=$on; off=$off; print(f'\nThreads $threads: plan {on:.3f} s vs no plan {off:.3f} s (medians of 3): plan costs **{(on/off-1)*100:+.1f}%** (target at most +15%)')" >>"$OUT"
done
"$BK" --format human --progress never tokens "$F" 2>/dev/null | sed -n '/cache/,$p' | head -20 | sed 's/^/    /' >>"$OUT" || true
