#!/usr/bin/env bash
# Builds Parley's libFuzzer targets, seeds them and runs each for FUZZ_SECONDS.
# Prints one line per target; exits non-zero if a build fails or a target finds a
# crash. See Tests/Fuzz/README.md.
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_BUILD_DIR  binaries, logs, corpora and crash files (default .build-fuzz)
#   FUZZ_TARGETS    space-separated subset of the targets below (default: all)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fuzz_seconds=${FUZZ_SECONDS:-60}
build_dir=${FUZZ_BUILD_DIR:-.build-fuzz}

# Target name and -max_len: the decoder's largest accepted input plus the harness's
# mode and option bytes, plus a little so the "too large" paths are reached too.
#   FuzzSealedBlob: blob wire max 9 + 32768 + 16 = 32793 bytes
#   FuzzFrame:      frame max 16384 + 24 = 16408 bytes, plus tamper edits (17 bytes)
#   FuzzHandshake:  largest handshake message (HandshakeMessage.maxByteCount) 148 bytes
#   FuzzSignalEnvelope: largest signalling message (SignalLimits.maxMessageBytes) 32813 bytes
#   FuzzSessionDescription: largest SDP (SDPLimits.maxBytes) 16384 bytes, plus mode and preset bytes
#   FuzzMediaReassembly: prelude 6 + 16 frames x 4 + up to 512 steps; 8192 reaches every step kind
#   FuzzReliablePacket: frame payload max 16384 bytes + mode byte; sessions chain several packets
declare -A max_len=([FuzzSealedBlob]=32800 [FuzzFrame]=16432 [FuzzHandshake]=192 [FuzzSignalEnvelope]=32832
                    [FuzzSessionDescription]=16448 [FuzzMediaReassembly]=8192 [FuzzReliablePacket]=20000)
read -r -a targets <<< "${FUZZ_TARGETS:-FuzzSealedBlob FuzzFrame FuzzHandshake FuzzSignalEnvelope FuzzSessionDescription FuzzMediaReassembly FuzzReliablePacket}"
# Targets that test ParleyProtocol (built with ParleyCrypto as a separate module).
protocol_targets=" FuzzSignalEnvelope FuzzSessionDescription FuzzMediaReassembly FuzzReliablePacket "
is_protocol_target() { [[ $protocol_targets == *" $1 "* ]]; }

# (libFuzzer reads -max_total_time=0 as "no limit", so 0 is refused too.)
if [[ ! $fuzz_seconds =~ ^[0-9]+$ ]] || (( 10#$fuzz_seconds < 1 )); then
    echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, at least 1, not '$fuzz_seconds'" >&2
    exit 2
fi
for target in "${targets[@]}"; do
    [[ -n ${max_len[$target]:-} ]] || { echo "fuzz: unknown target '$target' (known: ${!max_len[*]})" >&2; exit 2; }
done

export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=detect_leaks=0

sources=(Sources/ParleyCrypto/*.swift Tests/Fuzz/FuzzCommon.swift Tests/Fuzz/FuzzSupport.swift)

# Prints the last lines of a log file to stderr.
show_tail() {
    echo "---- last lines of $1 ----" >&2
    tail -n "${2:-40}" "$1" >&2
    echo "----" >&2
}

# Prints a libFuzzer log's report to stderr: from the first error line (oracle
# message, Swift runtime error, sanitizer or libFuzzer report), else its end.
show_report() {
    local first
    first=$(grep -n -m 1 -E 'Fatal error|ERROR: |fuzz oracle' "$1" | cut -d: -f1 || true)
    if [[ -z $first ]]; then
        show_tail "$1" 60
        return
    fi
    echo "---- report from $1 ----" >&2
    tail -n "+$first" "$1" | head -n 80 >&2
    echo "----" >&2
}

# Builds one target unless its binary is newer than every source it is made of.
# Runs in the background: reports nothing, the caller reads build.log on failure.
build() {
    local target=$1 dir=$build_dir/$1
    local binary=$dir/$target
    mkdir -p "$dir"
    local inputs=(Sources/ParleyCrypto Sources/CSodium Tests/Fuzz/FuzzCommon.swift "Tests/Fuzz/$target.swift" Tests/Fuzz/run.sh)
    if is_protocol_target "$target"; then
        inputs+=(Sources/ParleyProtocol Tests/Fuzz/ProtocolFuzzSupport.swift)
    else
        inputs+=(Tests/Fuzz/FuzzSupport.swift)
    fi
    # Directories too, so an added or removed source file counts as a change.
    if [[ -x $binary && -z $(find "${inputs[@]}" -newer "$binary" | head -n 1) ]]; then
        return 0
    fi
    if is_protocol_target "$target"; then
        build_protocol_target "$target"
        return
    fi
    if ! swiftc -sanitize=fuzzer,address -use-ld=lld -parse-as-library -O -g -swift-version 6 \
            -package-name parley -module-name "Parley$target" -I Sources/CSodium \
            "${sources[@]}" "Tests/Fuzz/$target.swift" -lsodium -o "$binary" \
            > "$dir/build.log" 2>&1 < /dev/null; then
        rm -f "$binary"
        return 1
    fi
}

# Builds a target of ParleyProtocol, which imports ParleyCrypto: ParleyCrypto first, as
# its own module (a static library), then the target file with FuzzCommon.swift,
# ProtocolFuzzSupport.swift (the libFuzzer hooks) and the ParleyProtocol sources as one
# module, without FuzzSupport.swift.
build_protocol_target() {
    local target=$1 dir=$build_dir/$1
    local binary=$dir/$target
    local protocol_sources
    mapfile -t protocol_sources < <(find Sources/ParleyProtocol -name '*.swift' | sort)
    mkdir -p "$dir/modules"
    if ! { swiftc -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -wmo \
                -package-name parley -module-name ParleyCrypto -I Sources/CSodium \
                -emit-module -emit-module-path "$dir/modules/ParleyCrypto.swiftmodule" \
                -emit-library -static Sources/ParleyCrypto/*.swift -o "$dir/libParleyCrypto.a" &&
           swiftc -sanitize=fuzzer,address -use-ld=lld -parse-as-library -O -g -swift-version 6 \
                -package-name parley -module-name "Parley$target" -I Sources/CSodium -I "$dir/modules" \
                "${protocol_sources[@]}" Tests/Fuzz/FuzzCommon.swift Tests/Fuzz/ProtocolFuzzSupport.swift \
                "Tests/Fuzz/$target.swift" "$dir/libParleyCrypto.a" -lsodium -o "$binary"
         } > "$dir/build.log" 2>&1 < /dev/null; then
        rm -f "$binary"
        return 1
    fi
}

# Regenerates the seeds (from the binary: they follow the wire format of the code
# under test), runs libFuzzer and prints the result line.
run() {
    local target=$1 dir=$build_dir/$1
    local binary=$dir/$target log=$dir/fuzz.log
    rm -rf "$dir/seeds"
    mkdir -p "$dir/seeds" "$dir/corpus" "$dir/crashes"
    touch "$dir/run-started"
    if ! PARLEY_FUZZ_SEED_DIR=$dir/seeds "$binary" > "$dir/seeds.log" 2>&1 < /dev/null; then
        echo "fuzz $target: FAILED to write seeds (log: $dir/seeds.log)"
        show_tail "$dir/seeds.log"
        return 1
    fi

    local status=0
    "$binary" -max_total_time="$fuzz_seconds" -max_len="${max_len[$target]}" -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
        "$dir/corpus" "$dir/seeds" > "$log" 2>&1 < /dev/null || status=$?

    local runs speed corpus crash
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    crash=$(find "$dir/crashes" -type f -newer "$dir/run-started" | head -n 1)
    if [[ $status -ne 0 || -n $crash ]]; then
        echo "fuzz $target: CRASH after ${runs:-?} runs (exit $status) reproducer: ${crash:-none written} log: $log"
        show_report "$log"
        return 1
    fi
    compact "$target"
    corpus=$(find "$dir/corpus" -type f | wc -l)
    echo "fuzz $target: ok, ${runs:-?} runs in ${fuzz_seconds}s (${speed:-?}/s), corpus $corpus inputs, no crash"
}

# Keeps only the corpus inputs that add coverage (libFuzzer never deletes the files it
# loaded, so the scratch corpus would grow with every run). On failure the corpus stays.
compact() {
    local target=$1 dir=$build_dir/$1
    rm -rf "$dir/corpus.merged"
    mkdir "$dir/corpus.merged"
    if "$dir/$target" -merge=1 -max_len="${max_len[$target]}" -timeout=20 "$dir/corpus.merged" "$dir/corpus" \
            > "$dir/merge.log" 2>&1 < /dev/null; then
        rm -rf "$dir/corpus"
        mv "$dir/corpus.merged" "$dir/corpus"
    else
        rm -rf "$dir/corpus.merged"
    fi
}

# Builds run side by side (each swiftc leaves a core mostly idle); runs one at a time.
failed=0
builds=()
for target in "${targets[@]}"; do
    build "$target" &
    builds+=($!)
done
for index in "${!targets[@]}"; do
    if ! wait "${builds[$index]}"; then
        target=${targets[$index]}
        echo "fuzz $target: BUILD FAILED (log: $build_dir/$target/build.log)"
        show_tail "$build_dir/$target/build.log"
        failed=1
    fi
done
if [[ $failed -ne 0 ]]; then
    exit 1
fi
for target in "${targets[@]}"; do
    run "$target" || failed=1
done
exit $failed
