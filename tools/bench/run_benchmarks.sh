#!/usr/bin/env bash
# run_benchmarks.sh — the benchmarks of lessons 04, 06 and 07 in one command: build the release preset's
# benchmark programs, run the reference and the student build with JSON output, compare them side by side
# and draw the pictures. Benchmarks report; they never pass or fail.
#
#   tools/bench/run_benchmarks.sh                 everything (about twenty minutes on 2 cores; lesson 07's
#                                                 serving workloads take most of it)
#   tools/bench/run_benchmarks.sh --only lesson06 one lesson's benchmarks (lesson04, lesson06 or lesson07)
#   tools/bench/run_benchmarks.sh --no-docs       leave docs/ alone: pictures go to the results folder
#   tools/bench/run_benchmarks.sh -- --full_sweep also the uncached 15M-shape runs at 256 and 512 (+1.5 min)
#   tools/bench/run_benchmarks.sh -- --benchmark_filter=stories260K   extra flags for both programs
#                                                 (any flag but --full_sweep implies --no-docs)
#   LLAMA2C_RUN=/path/to/run tools/bench/run_benchmarks.sh   also the reference against llama2.c's run.c,
#                                                 whole processes in pairs (tools/bench/vs_llama2c.py);
#                                                 build run.c outside the repository (docs/benchmarks.md)
#
# Writes build/release/bench-results/: reference.json, student.json, compare.md (student vs reference),
# kv_memory.md/.tsv, machine.txt, report.md (every table), plot/*.dat; and the three PNGs into
# docs/images/ plus the generated tables of docs/benchmarks.md (unless --no-docs). Lesson 06 adds
# lesson06_{reference,student}.json, lesson06_compare.md, lesson06_report.md and two PNGs; lesson 07
# lesson07_{reference,student}.json, lesson07_compare.md, lesson07_report.md, l07_timeline/ and two PNGs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build/release"
RESULTS="$BUILD/bench-results"
BENCH_DIR="$BUILD/lessons/lesson04_kv_cache_causallm"
IMAGES="$ROOT/docs/images"
DOC="$ROOT/docs/benchmarks.md"
EXTRA=()
ONLY=""

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --no-docs) IMAGES="$RESULTS/images"; DOC=""; shift ;;
    --only) [ $# -ge 2 ] && [[ "$2" == lesson04 || "$2" == lesson06 || "$2" == lesson07 ]] ||
              die "--only takes lesson04, lesson06 or lesson07"
            ONLY="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# A partial run must not overwrite the page's tables with partial ones.
for arg in "${EXTRA[@]}"; do
  if [ "$arg" != "--full_sweep" ] && [ -n "$DOC" ]; then
    say "extra benchmark flags given: docs/ is left alone (results and pictures in $RESULTS)"
    IMAGES="$RESULTS/images"; DOC=""
  fi
done

# --- tools: gnuplot draws the pictures, python3 reads the JSON (Debian packages) -------------------
need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (gnuplot draws the benchmark pictures, python3 reads the JSON)"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: install ${need[*]} by hand"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q || say "apt-get update failed; trying the install anyway"
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# --- build (release preset: -O3 -march=native) ----------------------------------------------------
[ -f "$BUILD/build.ninja" ] || cmake --preset release >/dev/null
TARGETS=()
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }  # is lesson $1's part of this run?
if want lesson04; then TARGETS+=(lesson04_bench_reference lesson04_bench_student lesson04_kv_memory_table generate); fi
if want lesson06; then TARGETS+=(lesson06_bench_reference lesson06_bench_student); fi
if want lesson07; then TARGETS+=(lesson07_bench_reference lesson07_bench_student); fi
cmake --build --preset release --target "${TARGETS[@]}"
mkdir -p "$RESULTS"

# --- the machine, for the page ---------------------------------------------------------------------
{
  model="$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
  echo "CPU: ${model:-unknown} ($(nproc) logical CPUs; $(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core), Linux $(uname -r)"
  cxx="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt")"
  echo "Compiler: $("${cxx:-c++}" --version | head -n 1)"
  python3 - "$BUILD/compile_commands.json" <<'EOF'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"].endswith("bench/generate_bench.cpp") and "bench_reference" in e.get("output", e["command"]):
        flags = [a for a in shlex.split(e["command"])[1:] if a.startswith(("-O", "-m", "-f", "-std", "-D", "-W", "-g"))]
        print("Flags of the benchmark and the code it measures: `" + " ".join(flags) + "`")
        break
EOF
  echo "Libraries (Debian packages): $(dpkg-query -W -f='${Package} ${Version}, ' libeigen3-dev libbenchmark-dev 2>/dev/null | sed 's/, $//')"
  echo "Single-threaded: Eigen without OpenMP, one benchmark at a time"
} >"$RESULTS/machine.txt"

load="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  say "warning: load average is $load — other programs are running, timings will be slower and noisier"
fi

if want lesson04; then
# --- run: the reference, then the student's build of the same source ------------------------------
say "reference (lesson04_bench_reference) -> $RESULTS/reference.json"
"$BENCH_DIR/lesson04_bench_reference" --benchmark_out="$RESULTS/reference.json" --benchmark_out_format=json \
  "${EXTRA[@]}"
say "student (lesson04_bench_student) -> $RESULTS/student.json"
"$BENCH_DIR/lesson04_bench_student" --benchmark_out="$RESULTS/student.json" --benchmark_out_format=json \
  "${EXTRA[@]}"
"$BENCH_DIR/lesson04_kv_memory_table" >"$RESULTS/kv_memory.md"
"$BENCH_DIR/lesson04_kv_memory_table" --tsv >"$RESULTS/kv_memory.tsv"

# --- against llama2.c (only when its run binary is given) -----------------------------------------
if [ -n "${LLAMA2C_RUN:-}" ]; then
  [ -x "$LLAMA2C_RUN" ] || die "LLAMA2C_RUN=$LLAMA2C_RUN is not an executable (llama2.c's run, built outside this repository)"
  say "the reference against llama2.c ($LLAMA2C_RUN), whole processes in pairs -> $RESULTS/llama2c.md"
  python3 "$ROOT/tools/bench/vs_llama2c.py" --llama2c "$LLAMA2C_RUN" --generate "$BUILD/tools/generate" \
    --out "$RESULTS/llama2c.md"
else
  rm -f "$RESULTS/llama2c.md"  # a stale table must not reach the page
fi

# --- side by side, pictures, page ------------------------------------------------------------------
echo
say "student vs reference (time per run; ratio > 1: the student's code is slower)"
python3 "$ROOT/tools/bench/compare.py" "$RESULTS/reference.json" "$RESULTS/student.json" --markdown "$RESULTS/compare.md"
echo
python3 "$ROOT/tools/bench/render.py" --results "$RESULTS" --images "$IMAGES" ${DOC:+--doc "$DOC"}
fi  # lesson 04

# --- lesson 06: the paged KV cache (bench/paged_bench.cpp; --full_sweep is lesson 04's own flag) ------
if want lesson06; then
  L06_DIR="$BUILD/lessons/lesson06_paged_kv_cache"
  L06_EXTRA=()
  for arg in "${EXTRA[@]}"; do
    if [ "$arg" != "--full_sweep" ]; then L06_EXTRA+=("$arg"); fi
  done
  say "lesson 06 reference (lesson06_bench_reference) -> $RESULTS/lesson06_reference.json"
  "$L06_DIR/lesson06_bench_reference" --benchmark_out="$RESULTS/lesson06_reference.json" --benchmark_out_format=json \
    "${L06_EXTRA[@]}"
  say "lesson 06 student (lesson06_bench_student) -> $RESULTS/lesson06_student.json"
  "$L06_DIR/lesson06_bench_student" --benchmark_out="$RESULTS/lesson06_student.json" --benchmark_out_format=json \
    "${L06_EXTRA[@]}"
  echo
  say "lesson 06: student vs reference (time per run; ratio > 1: the student's code is slower)"
  python3 "$ROOT/tools/bench/compare.py" "$RESULTS/lesson06_reference.json" "$RESULTS/lesson06_student.json" \
    --markdown "$RESULTS/lesson06_compare.md"
  echo
  python3 "$ROOT/tools/bench/render_lesson06.py" --results "$RESULTS" --images "$IMAGES" ${DOC:+--doc "$DOC"}
fi

# --- lesson 07: continuous batching (bench/serve_bench.cpp) -------------------------------------------
# The reference runs everything (the three serving policies on both models, the batched decode step) and
# writes the KV-over-time files; the student's build runs only what depends on the student's code at one
# batch size (continuous batching at N = 16 and the batched decode step): the baselines are lesson 04's
# reference in both builds, and the whole sweep takes a quarter of an hour.
if want lesson07; then
  L07_DIR="$BUILD/lessons/lesson07_continuous_batching"
  L07_EXTRA=()
  for arg in "${EXTRA[@]}"; do
    if [ "$arg" != "--full_sweep" ]; then L07_EXTRA+=("$arg"); fi
  done
  rm -rf "$RESULTS/l07_timeline" && mkdir -p "$RESULTS/l07_timeline"
  say "lesson 07 reference (lesson07_bench_reference) -> $RESULTS/lesson07_reference.json"
  "$L07_DIR/lesson07_bench_reference" --benchmark_out="$RESULTS/lesson07_reference.json" --benchmark_out_format=json \
    --timeline_dir="$RESULTS/l07_timeline" "${L07_EXTRA[@]}"
  say "lesson 07 student (lesson07_bench_student) -> $RESULTS/lesson07_student.json"
  "$L07_DIR/lesson07_bench_student" --benchmark_out="$RESULTS/lesson07_student.json" --benchmark_out_format=json \
    --benchmark_filter='continuous/N:16/|DecodeStep_Batched' "${L07_EXTRA[@]}"
  echo
  say "lesson 07: student vs reference (time per run; ratio > 1: the student's code is slower)"
  python3 "$ROOT/tools/bench/compare.py" "$RESULTS/lesson07_reference.json" "$RESULTS/lesson07_student.json" \
    --markdown "$RESULTS/lesson07_compare.md"
  echo
  python3 "$ROOT/tools/bench/render_lesson07.py" --results "$RESULTS" --images "$IMAGES" ${DOC:+--doc "$DOC"}
fi
