#!/bin/sh
# Runs the libFuzzer targets that `make fuzz` and `make fuzz-replay` build.
#
#   sh fuzz/run.sh fuzz DIR SECONDS TARGET...
#       Fuzzes each target for SECONDS seconds, starting from the committed
#       seeds in fuzz/corpus/TARGET. New inputs go to DIR/work-TARGET, so the
#       committed corpus stays small; crashes go to DIR/crashes/.
#   sh fuzz/run.sh replay DIR TARGET...
#       Runs each target once over every file in fuzz/corpus/TARGET (the
#       seeds and the inputs of past crashes), without fuzzing.
#
# DIR holds the fuzz_TARGET binaries. Exits non-zero when a target crashes.
set -eu

mode=$1
dir=$2
shift 2
seconds=60
if [ "$mode" = fuzz ]; then
    seconds=$1
    shift
fi

here=$(dirname "$0")
status=0
for target in "$@"; do
    binary="$dir/fuzz_$target"
    corpus="$here/corpus/$target"
    mkdir -p "$dir/crashes"
    case "$mode" in
    fuzz)
        mkdir -p "$dir/work-$target"
        echo "fuzzing $target for $seconds s"
        "$binary" -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix="$dir/crashes/$target-" "$dir/work-$target" "$corpus" \
            || status=1
        ;;
    replay)
        echo "replaying $(ls "$corpus" | wc -l) inputs of $target"
        "$binary" -artifact_prefix="$dir/crashes/$target-" "$corpus"/* 2>"$dir/replay-$target.log" \
            || { cat "$dir/replay-$target.log"; status=1; }
        ;;
    *)
        echo "usage: $0 fuzz DIR SECONDS TARGET... | replay DIR TARGET..." >&2
        exit 2
        ;;
    esac
done
exit $status
