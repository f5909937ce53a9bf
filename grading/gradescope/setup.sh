#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (base image: Ubuntu 24.04, whose
# cmake, g++, Eigen, doctest and bubblewrap packages match the Debian 12 versions the course is built with).
# It installs the packages, fetches stories260K (sha256-checked) and builds the grading tree once, so that
# each submission only compiles its own stub files.
set -euo pipefail
LAB="${LLM_LAB_DIR:-/autograder/source/llm-lab}"
chmod +x "$LAB/llm"
"$LAB/llm" deps
"$LAB/llm" model
# Warm the build folder run_autograder reuses: grade the committed stubs once (score 0, by design).
"$LAB/llm" grade "$LAB/lessons" --name warm-up --work /tmp/llm-warm-up --build-dir "${LLM_GRADE_BUILD_DIR:-/autograder/llm-build}" --brief || true
