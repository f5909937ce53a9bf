#!/usr/bin/env bash
# run_fuzz.sh — build the libFuzzer targets (clang++-14, ASan + UBSan) into build/fuzz, write the seed
# corpus, and run each target for a bounded time. Exits non-zero when any target reports a crash, a
# leak, a sanitizer error, an out-of-memory/timeout, or an unexpected exception (see fuzz/*.cpp).
#
#   fuzz/run_fuzz.sh [SECONDS] [TARGET...]
#     SECONDS  per target, default 60 (CI). TARGET: checkpoint, tokenizer_load, tokenizer_encode
#              (default: all three, one after the other).
#
# Outputs under build/fuzz/: corpus/<target>/ (seeds, regenerated every run), work/<target>/ (what the
# fuzzer learned; kept between runs), logs/<target>.log, findings/<target>-crash-... (reproducers).
# Reproduce a finding: build/fuzz/fuzz_<target> build/fuzz/findings/<file>
# Environment: LLM_MODEL_DIR (where stories260K is; the seeds then include the real files),
# LLM_FUZZ_TOKENIZER (the tokenizer_encode vocabulary: a tok512.bin path, or "synthetic"),
# LLM_FUZZ_BUILD (build folder, default build/fuzz), CXX_FUZZ (compiler, default clang++-14).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LLM_FUZZ_BUILD:-$ROOT/build/fuzz}"
CXX_FUZZ="${CXX_FUZZ:-clang++-14}"
ALL_TARGETS=(checkpoint tokenizer_load tokenizer_encode)

# Debian 12 packages, and why.
PACKAGES=(
  clang-14            # clang++-14: libFuzzer instrumentation (-fsanitize=fuzzer)
  libclang-rt-14-dev  # the libFuzzer, ASan and UBSan runtimes
  llvm-14             # llvm-symbolizer-14: readable stack traces in reports
  cmake               # configures fuzz/CMakeLists.txt
  ninja-build         # builds it
  libeigen3-dev       # Eigen 3.4: the checkpoint loader's vectorised checks
)

say() { printf 'run_fuzz: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

ensure_packages() {
  local missing=() p
  command -v dpkg-query >/dev/null || { say "no dpkg-query: not checking packages"; return 0; }
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q || say "apt-get update failed; trying the install anyway"
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

seconds="${1:-60}"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "SECONDS must be a positive integer, got '$seconds' (usage: fuzz/run_fuzz.sh [SECONDS] [TARGET...])"
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t' (one of: ${ALL_TARGETS[*]})"
done

ensure_packages
command -v "$CXX_FUZZ" >/dev/null || die "$CXX_FUZZ not found"

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT/fuzz" -B "$BUILD" -G Ninja -D CMAKE_CXX_COMPILER="$CXX_FUZZ" >/dev/null
fi
cmake --build "$BUILD"

rm -rf "$BUILD/corpus"
"$BUILD/make_corpus" "$BUILD/corpus"
mkdir -p "$BUILD/logs" "$BUILD/findings"

symbolizer="$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)"
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer" UBSAN_SYMBOLIZER_PATH="$symbolizer"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for t in "${targets[@]}"; do
  exe="$BUILD/fuzz_$t"
  log="$BUILD/logs/$t.log"
  mkdir -p "$BUILD/work/$t"
  # Findings of an earlier run are kept under findings/; this run's are told apart by their time stamp.
  stamp="$BUILD/findings/.start-$t"
  touch "$stamp"
  say "fuzz_$t for ${seconds}s (log: $log)"
  # -max_len: the largest seed must fit whole (stories260K.bin is just over libFuzzer's 1 MiB default,
  # and a cut copy of it is a different seed); at least 4096, libFuzzer's usual default.
  max_len="$(find "$BUILD/corpus/$t" -type f -printf '%s\n' | sort -n | tail -n 1)"
  max_len=$(( ${max_len:-0} + 64 ))
  [ "$max_len" -ge 4096 ] || max_len=4096
  rc=0
  # -timeout: one input taking 25 s is a hang. -rss_limit_mb / -malloc_limit_mb: a loader that
  # allocates 1 GB for a small file is a finding (sizes must be checked before allocating).
  "$exe" -max_total_time="$seconds" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$BUILD/findings/$t-" \
    "$BUILD/work/$t" "$BUILD/corpus/$t" >"$log" 2>&1 || rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz_%s: %s runs in %ss (%s/s), no finding\n' "$t" "${runs:-?}" "$seconds" "${rate:-?}"
    continue
  fi
  failed+=("$t")
  printf 'fuzz_%s: FINDING (exit status %s) after %s runs; log %s\n' "$t" "$rc" "${runs:-?}" "$log"
  # The report and its stack: from the first error line to libFuzzer's SUMMARY.
  awk '/ERROR:|==FINDING==|runtime error:|deadly signal/ { on = 1 } on { print; if (++n >= 80) exit } /^SUMMARY/ && on { exit }' "$log" || true
  find "$BUILD/findings" -maxdepth 1 -type f -name "$t-*" -newer "$stamp" | while read -r artifact; do
    printf 'reproducer %s (%s bytes), first 256 bytes in hex:\n' "$artifact" "$(stat -c %s "$artifact")"
    od -An -tx1 -v -N 256 "$artifact"
    printf 'rerun: %s %s\n' "$exe" "$artifact"
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  say "findings in: ${failed[*]}"
  exit 1
fi
say "no finding in ${targets[*]} (${seconds}s each)"
