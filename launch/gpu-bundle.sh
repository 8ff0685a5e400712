#!/usr/bin/env bash
# Packs what a GPU host without Debian's -dev packages needs to run this build: writes
# gpu-bundle/ (ignored by git; docs/gpu_check.md). Run here, on Debian 12, after `make build`;
# carry gpu-bundle/ to the GPU host and run `make gpu-check` (or launch/gpu-check.sh) there.
#
# Usage: launch/gpu-bundle.sh [--build DIR] [--out DIR] [--max-mib N] [--blas reference|openblas]
#                             [--check [--python PYTHON]]
#   --build    the build directory (default: build)
#   --out      the bundle directory, replaced (default: gpu-bundle)
#   --max-mib  refuse a bundle larger than this (default 58: a GPU machine of this workplace
#              receives 64 MiB per call, the working tree's ~5 MiB included)
#   --blas     the libblas.so.3 to bundle: the build's (OpenBLAS, default) or Debian's
#              reference BLAS (0.4 MB; about 25x slower CPU matrix products, see below)
#   --check    then check the bundle relocated (launch/gpu/check-bundle.sh) with PYTHON's torch
#              (default: the build's torch environment)
#
# The bundle holds: bin/switchyard and the executables of `ctest -L gpu` (tests/), without debug
# information; tests/gpu-tests.tsv and run-gpu-tests.sh (runs them as ctest would); the shared
# libraries they need from Debian (lib/: Open MPI, PMIx, hwloc, libevent, Boost.Program_options,
# SentencePiece, spdlog, fmt, OpenSSL's libcrypto, BLAS, ...), Open MPI's launcher, plugins,
# help files and settings (ompi/), PMIx's plugins and help files (pmix/); libstdc++ and
# libgcc_s in lib/compat (used only where the host's are older); the configs of examples/configs
# and the data the default config reads; env.sh; README.md (contents, glibc needs); REQUIRES,
# TORCH_VERSION, BUILD_INFO. Not LibTorch, libc10 or the nvidia-* libraries: those are the GPU
# host's own torch (the same release, launch/torch_version), found by env.sh. Not glibc.
# Every bundled ELF file's run path is rewritten to point inside the bundle (launch/gpu/
# elf_runpath.py), so nothing is looked up at this machine's paths.
# Libraries over 8 MiB (OpenBLAS: 37 MB, 4 MB compressed) are stored xz-compressed
# (lib/NAME.xz); env.sh unpacks them once, into a cache directory outside the bundle.
# BLAS matters for speed beyond the fused CPU attention: the executables list libblas.so.3
# before libtorch_cpu.so, so LibTorch's own calls to sgemm_/dgemm_ bind to libblas.so.3's
# (LD_DEBUG=bindings), and every CPU matrix product of LibTorch runs on that BLAS.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build="$repo/build"
out="$repo/gpu-bundle"
max_mib=58
blas=openblas
check=0
check_python=""
die() {
  echo "gpu-bundle: $*" >&2
  exit 1
}
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=${2:?--build needs DIR}; shift 2 ;;
    --out) out=${2:?--out needs DIR}; shift 2 ;;
    --max-mib) max_mib=${2:?--max-mib needs N}; shift 2 ;;
    --blas) blas=${2:?--blas needs reference or openblas}; shift 2 ;;
    --check) check=1; shift ;;
    --python) check_python=${2:?--python needs PYTHON}; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-bundle: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
case "$blas" in reference|openblas) ;; *) echo "gpu-bundle: --blas reference|openblas" >&2; exit 2 ;; esac
[[ $max_mib =~ ^[0-9]+$ ]] || { echo "gpu-bundle: --max-mib needs a whole number" >&2; exit 2; }

for tool in objdump strip ldd ctest python3 ompi_info; do
  command -v "$tool" >/dev/null || die "needs $tool (Debian: binutils, libc-bin, cmake, python3, openmpi-bin)"
done
build=$(cd "$build" 2>/dev/null && pwd -P) || die "no build directory $build: run make build first"
[ -x "$build/launch/switchyard" ] || die "no $build/launch/switchyard: run make build first"
cache="$build/CMakeCache.txt"
[ -f "$cache" ] || die "no $cache"
torch_cmake=$(sed -n 's/^Torch_DIR:[A-Z]*=//p' "$cache")
torch_root=$(cd "$torch_cmake/../../.." 2>/dev/null && pwd -P) || die "the build's Torch_DIR ($torch_cmake) does not exist"
site=$(dirname "$torch_root")
torch_version=$(sed -n "s/^__version__ = ['\"]\\([^'\"]*\\)['\"].*/\\1/p" "$torch_root/version.py")
[ -n "$torch_version" ] || die "cannot read the torch release from $torch_root/version.py"
mpiexec=$(sed -n 's/^MPIEXEC_EXECUTABLE:[A-Z]*=//p' "$cache")
[ -n "$mpiexec" ] || mpiexec=$(command -v mpiexec)

# Open MPI's directories (Debian: /usr/bin, .../openmpi/lib/openmpi3, /usr/share/openmpi,
# /etc/openmpi) and PMIx's plugins and help files.
# (awk reads all of its input: a reader that stops early would fail the pipeline under pipefail)
ompi_dir() { ompi_info --path all 2>/dev/null | awk -v k="$1:" '$1 == k && !n++ {print $2}'; }
ompi_bindir=$(ompi_dir Bindir)
ompi_pkglibdir=$(ompi_dir Pkglibdir)
ompi_pkgdatadir=$(ompi_dir Pkgdatadir)
ompi_sysconfdir=$(ompi_dir Sysconfdir)
orterun=$(readlink -f "$ompi_bindir/orterun")
if [ ! -x "$orterun" ] || [ ! -x "$ompi_bindir/orted" ] || [ ! -d "$ompi_pkglibdir" ]; then
  die "Open MPI's orterun, orted or plugins not found (ompi_info --path all)"
fi
libpmix=$(ldd "$ompi_pkglibdir/mca_pmix_ext3x.so" 2>/dev/null | awk '$1 == "libpmix.so.2" {print $3}')
pmix_plugins=""
for d in "$(dirname "$(readlink -f "${libpmix:-/nonexistent}")")/pmix" \
         /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix; do
  if [ -d "$d" ]; then pmix_plugins=$(cd "$d" && pwd -P); break; fi
done
[ -n "$pmix_plugins" ] || die "PMIx's plugin directory not found (Debian: libpmix2)"
pmix_share=$(cd "$pmix_plugins/../../share" && pwd -P)

# The gpu-labelled tests and their executables.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ctest --test-dir "$build" -L gpu --show-only=json-v1 >"$tmp/ctest.json" ||
  die "ctest --show-only failed in $build"
python3 "$repo/launch/gpu/ctest_to_tsv.py" --build "$build" --mpiexec "$mpiexec" \
  --tsv "$tmp/gpu-tests.tsv" <"$tmp/ctest.json" >"$tmp/test-executables" || exit 1
mapfile -t test_exes <"$tmp/test-executables"

echo "gpu-bundle: $build -> $out (torch $torch_version from $site, BLAS: $blas)"
rm -rf "$out"
mkdir -p "$out"/{bin,tests,lib/compat,lib/hwloc,ompi/bin,ompi/lib/openmpi3,ompi/share/openmpi} \
         "$out"/{ompi/etc,pmix/lib/pmix,pmix/share/pmix,pmix/etc,examples/configs}
out=$(cd "$out" && pwd -P)
trap 'rm -rf "$tmp"; [ "${done_ok:-0}" = 1 ] || rm -rf "$out"' EXIT

# --- Executables, without debug information --------------------------------------------------
strip --strip-debug -o "$out/bin/switchyard" "$build/launch/switchyard"
for exe in "${test_exes[@]}"; do
  strip --strip-debug -o "$out/tests/$(basename "$exe")" "$exe"
done
cp "$tmp/gpu-tests.tsv" "$out/tests/gpu-tests.tsv"
for name in orterun mpirun mpiexec; do cp "$orterun" "$out/ompi/bin/$name"; done
cp "$(readlink -f "$ompi_bindir/orted")" "$out/ompi/bin/orted"

# --- Open MPI plugins (not those of networks a single GPU host lacks: UCX, libfabric, verbs,
# PSM; nor OpenSHMEM's), help files, settings; PMIx plugins and help files ---------------------
excluded_re='lib(ucp|ucs|uct|ucm|fabric|ibverbs|rdmacm|psm_infinipath|psm2|infinipath|efa|oshmem)\.so'
excluded_plugins=()
for f in "$ompi_pkglibdir"/mca_*.so; do
  deps=$(ldd "$f" 2>/dev/null || true)
  if grep -q -E "$excluded_re" <<<"$deps"; then
    excluded_plugins+=("$(basename "$f" .so)")
  else
    cp "$f" "$out/ompi/lib/openmpi3/"
  fi
done
cp -r "$ompi_pkgdatadir"/. "$out/ompi/share/openmpi/"
cp "$ompi_sysconfdir/openmpi-mca-params.conf" "$out/ompi/etc/" 2>/dev/null || true
echo "localhost" >"$out/ompi/etc/openmpi-default-hostfile"
cp "$pmix_plugins"/*.so "$out/pmix/lib/pmix/"
cp -r "$pmix_share/pmix"/. "$out/pmix/share/pmix/"
# Debian's pmix-mca-params.conf names its plugin directory by absolute path: env.sh sets it.
echo "# Switchyard GPU bundle: PMIx settings come from env.sh (PMIX_MCA_*)." \
  >"$out/pmix/etc/pmix-mca-params.conf"

# --- The shared libraries they need, from this machine -----------------------------------------
# Followed through each file's own NEEDED entries (objdump -p), resolved as ldd resolves them,
# except libblas.so.3 (--blas). Left out: glibc's libraries, libstdc++ and libgcc_s (the host's;
# copies in lib/compat), and LibTorch's and the nvidia-* wheels' (the host's torch).
is_host_lib() {
  case "$1" in
    linux-vdso.so.*|ld-linux-x86-64.so.*|libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|\
    librt.so.*|libutil.so.*|libresolv.so.*|libanl.so.*|libnsl.so.*|libmvec.so.*|\
    libstdc++.so.*|libgcc_s.so.*) return 0 ;;
  esac
  return 1
}
blas_path=""
if [ "$blas" = reference ]; then
  blas_path=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
  [ -f "$blas_path" ] || die "no reference BLAS at $blas_path (Debian: libblas3)"
fi
declare -A bundled=()
queue=("$build/launch/switchyard" "${test_exes[@]}" "$orterun" "$ompi_bindir/orted"
       "$out"/ompi/lib/openmpi3/*.so "$out"/pmix/lib/pmix/*.so)
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}
  queue=("${queue[@]:1}")
  resolved=$(ldd "$f" 2>/dev/null || true)
  while read -r name; do
    [ -n "$name" ] || continue
    is_host_lib "$name" && continue
    [ -n "${bundled[$name]:-}" ] && continue
    path=$(awk -v n="$name" '$1 == n && $2 == "=>" {print $3; exit}' <<<"$resolved")
    if [ "$name" = libblas.so.3 ] && [ -n "$blas_path" ]; then
      path=$blas_path
    fi
    if [ -z "$path" ] || [ "$path" = "not" ]; then
      die "$(basename "$f") needs $name, which ldd does not find"
    fi
    real=$(readlink -f "$path")
    case "$real" in "$site"/*) continue ;; esac  # LibTorch, nvidia-*: the host's torch
    bundled[$name]=$real
    cp "$real" "$out/lib/$name"
    queue+=("$real")
  done < <(objdump -p "$f" | awk '$1 == "NEEDED" {print $2}')
done
for name in libstdc++.so.6 libgcc_s.so.1; do
  cp "$(readlink -f "$(ldd "$build/launch/switchyard" | awk -v n="$name" '$1 == n {print $3}')")" \
    "$out/lib/compat/$name"
done

# --- Run paths inside the bundle ---------------------------------------------------------------
# shellcheck disable=SC2016  # $ORIGIN is for the dynamic loader, not the shell
origin='$ORIGIN'
bundled_exes=("$out/bin/switchyard")
for exe in "${test_exes[@]}"; do bundled_exes+=("$out/tests/$(basename "$exe")"); done
python3 "$repo/launch/gpu/elf_runpath.py" "$origin/../lib" "${bundled_exes[@]}" >&2 ||
  echo "gpu-bundle: warning: some run paths unchanged" >&2
python3 "$repo/launch/gpu/elf_runpath.py" "$origin/../../lib" "$out"/ompi/bin/* >&2 ||
  echo "gpu-bundle: warning: some run paths unchanged" >&2
python3 "$repo/launch/gpu/elf_runpath.py" "$origin" "$out"/lib/*.so* >&2 ||
  echo "gpu-bundle: warning: some run paths unchanged" >&2
python3 "$repo/launch/gpu/elf_runpath.py" "$origin/../../../lib" "$out"/ompi/lib/openmpi3/*.so \
  "$out"/pmix/lib/pmix/*.so >&2 || echo "gpu-bundle: warning: some run paths unchanged" >&2

# --- Configs, the default config's data, scripts ------------------------------------------------
cp "$repo"/examples/configs/*.pbtxt "$out/examples/configs/"
default_config="$repo/examples/configs/default.pbtxt"
while read -r rel; do
  [ -f "$repo/$rel" ] || die "the default config reads $rel, which is not in the repository"
  mkdir -p "$out/$(dirname "$rel")"
  cp "$repo/$rel" "$out/$rel"
done < <(sed -n 's/.*\bpath: *"\([^"]*\)".*/\1/p' "$default_config")
cp "$repo/launch/gpu/env.sh" "$out/env.sh"
cp "$repo/launch/gpu/run-gpu-tests.sh" "$out/run-gpu-tests.sh"
chmod +x "$out/env.sh" "$out/run-gpu-tests.sh"
echo "$torch_version" >"$out/TORCH_VERSION"

# --- glibc / libstdc++ versions the bundle's files need (objdump -T, undefined symbols) --------
mapfile -t elves < <(find "$out" -path "$out/lib/compat" -prune -o -type f -print |
                       while read -r f; do
                         [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && echo "$f"
                       done)
versions=$(for f in "${elves[@]}"; do objdump -T "$f" 2>/dev/null | grep '\*UND\*'; done |
             grep -o -E '\b(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9][0-9.]*' | sort -u -V)
newest() { { grep "^$1_" <<<"$versions" || true; } | sed "s/^$1_//" | sort -V | tail -n1; }
glibc_need=$(newest GLIBC)
glibcxx_need=$(newest GLIBCXX)
cxxabi_need=$(newest CXXABI)
printf 'GLIBC %s\nGLIBCXX %s\nCXXABI %s\n' "$glibc_need" "$glibcxx_need" "$cxxabi_need" \
  >"$out/REQUIRES"
# Which files ask for the newest two (for the README).
asked_by() {
  local f
  for f in "${elves[@]}"; do
    if objdump -T "$f" 2>/dev/null | grep '\*UND\*' | grep -F "($1)" >/dev/null; then
      echo "${f#"$out"/}"
    fi
  done | tr '\n' ' ' | sed 's/ $//'
}
glibc_by=$(asked_by "GLIBC_$glibc_need")
glibcxx_by=$(asked_by "GLIBCXX_$glibcxx_need")

# --- Large libraries stored compressed (env.sh unpacks them) --------------------------------------
compressed=()
while IFS= read -r -d '' f; do
  if [ "$(stat -c %s "$f")" -gt $((8 * 1048576)) ]; then
    command -v xz >/dev/null || die "needs xz to compress $(basename "$f") (Debian: xz-utils)"
    xz -9 -T0 "$f"
    compressed+=("$(basename "$f")")
  fi
done < <(find "$out/lib" -maxdepth 1 -type f -name '*.so*' -print0)

commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
{
  echo "bundled: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release))"
  echo "source commit: $commit (HEAD at bundling; the build may hold uncommitted changes)"
  echo "switchyard built: $(date -u -r "$build/launch/switchyard" +%Y-%m-%dT%H:%M:%SZ)"
  echo "build type: $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")"
  echo "NCCL communicator: $(sed -n 's/^SWITCHYARD_WITH_NCCL:[A-Z]*=//p' "$cache")"
  echo "torch (build): $torch_version"
  echo "Open MPI: $(ompi_info --version 2>/dev/null | head -n1)"
  echo "BLAS: $blas ($(basename "$(readlink -f "${bundled[libblas.so.3]:-none}")"))"
} >"$out/BUILD_INFO"

# --- README ------------------------------------------------------------------------------------
size_bytes=$(du -sb "$out" | cut -f1)
size_mib=$(awk -v b="$size_bytes" 'BEGIN {printf "%.1f", b / 1048576}')
{
  echo "# Switchyard GPU bundle"
  echo
  echo "Written by \`launch/gpu-bundle.sh\` (docs/gpu_check.md). Use on a GPU host with torch"
  echo "$torch_version's release installed for \`python3\` (or \`SWITCHYARD_PYTHON\`):"
  echo
  echo '```sh'
  echo '. gpu-bundle/env.sh && switchyard --help          # or: gpu-bundle/env.sh switchyard --help'
  echo 'gpu-bundle/run-gpu-tests.sh                        # ctest -L gpu, from the bundle'
  echo 'make gpu-check                                     # or launch/gpu-check.sh, in the repository'
  echo '```'
  echo
  echo "## Needs of the host"
  echo
  echo "- glibc >= $glibc_need (\`ldd --version\`; GLIBC_$glibc_need asked by: $glibc_by); env.sh"
  echo "  refuses an older one."
  echo "- libstdc++ with GLIBCXX_$glibcxx_need and CXXABI_$cxxabi_need"
  echo "  (\`strings \$(ldconfig -p | awk '/libstdc\\+\\+.so.6 .*x86-64/{print \$NF}') | grep GLIBCXX_$glibcxx_need\`);"
  echo "  where it lacks them env.sh puts the bundle's own (lib/compat, Debian 12's) first."
  echo "  GLIBCXX_$glibcxx_need asked by: $glibcxx_by"
  echo "- torch $torch_version (LibTorch, libc10, the CUDA libraries and NCCL come from it)."
  echo
  echo "Every version the bundle's files ask of glibc and GCC's runtime (objdump -T, undefined symbols):"
  echo
  echo '```'
  tr '\n' ' ' <<<"$versions" | fold -s -w 96
  echo
  echo '```'
  echo
  echo "## Contents ($size_mib MiB)"
  echo
  echo "| path | what | MiB |"
  echo "| --- | --- | ---: |"
  for entry in "bin:switchyard (debug information stripped)" \
               "tests:the ctest -L gpu executables (stripped) and gpu-tests.tsv" \
               "lib:shared libraries from Debian 12 ($(find "$out/lib" -maxdepth 1 -type f | wc -l) files)" \
               "lib/compat:libstdc++ and libgcc_s, used only where the host's are older" \
               "ompi:Open MPI $(ompi_info --version 2>/dev/null | head -n1 | awk '{print $NF}'): mpirun/orterun, orted, $(find "$out/ompi/lib/openmpi3" -name '*.so' | wc -l) plugins, help files, settings" \
               "pmix:PMIx plugins and help files" \
               "examples:the example configs and the data the default config reads"; do
    p=${entry%%:*}
    echo "| \`$p/\` | ${entry#*:} | $(du -sb "$out/$p" | awk '{printf "%.1f", $1 / 1048576}') |"
  done
  echo
  echo "Libraries in lib/: $(cd "$out/lib" && find . -maxdepth 1 -type f -printf '%f\n' | sort | tr '\n' ' ')"
  echo
  echo "Stored xz-compressed (env.sh unpacks them once into"
  echo "\${XDG_CACHE_HOME:-~/.cache}/switchyard/gpu-bundle-lib/<checksum>): ${compressed[*]:-none}"
  echo
  echo "Open MPI plugins left out (networks a single GPU host does not need, OpenSHMEM):"
  echo "${excluded_plugins[*]:-none}"
  echo
  echo "## Build"
  echo
  echo '```'
  cat "$out/BUILD_INFO"
  echo '```'
} >"$out/README.md"

size_bytes=$(du -sb "$out" | cut -f1)
size_mib=$(awk -v b="$size_bytes" 'BEGIN {printf "%.1f", b / 1048576}')
if [ "$size_bytes" -gt $((max_mib * 1048576)) ]; then
  die "the bundle is $size_mib MiB, over the $max_mib MiB limit (--max-mib); nothing written"
fi
done_ok=1
echo "gpu-bundle: $out: $size_mib MiB ($(find "$out" -type f | wc -l) files; ${#bundled[@]} libraries;" \
     "glibc >= $glibc_need, GLIBCXX_$glibcxx_need)"

if [ "$check" = 1 ]; then
  if [ -z "$check_python" ]; then
    check_python="$(cd "$site/../../.." && pwd -P)/bin/python3"
  fi
  "$repo/launch/gpu/check-bundle.sh" "$out" "$check_python"
fi
