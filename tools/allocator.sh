# Sourced by benchmarks/real_photos.sh, or by hand before your own commands (`source tools/allocator.sh`; `bash
# tools/allocator.sh` has no effect): the torch processes started after it get a caching memory allocator. With
# glibc's defaults every large tensor is an mmap and a munmap, and on 2 cores the page faults took a third of the
# cams stage's CPU time (2026-12-06, Xeon with AMX, 32 train photos, Lite2, bfloat16: 38 of 110 CPU seconds in the
# kernel). TCMalloc when installed (Debian: libgoogle-perftools4; tools/install.sh installs it where it can), else
# glibc's malloc told to keep freed memory (GLIBC_TUNABLES). An LD_PRELOAD or GLIBC_TUNABLES already set is kept.
# docs/ablations.md, "Real photos: the paper's CAM scales in bfloat16, and a caching allocator".
if [[ -z "${LD_PRELOAD:-}" && -z "${GLIBC_TUNABLES:-}" ]]; then
  _tcmalloc=$({ ldconfig -p 2>/dev/null || true; } | awk '/libtcmalloc_minimal\.so\.4 /{path = $NF} END {print path}')
  if [[ -n "$_tcmalloc" && -f "$_tcmalloc" ]]; then
    export LD_PRELOAD=$_tcmalloc
    echo "[allocator] TCMalloc ($_tcmalloc)"
  else
    export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=17179869184:glibc.malloc.top_pad=1073741824
    echo "[allocator] glibc malloc keeping freed memory (no TCMalloc: apt-get install libgoogle-perftools4)"
  fi
  unset _tcmalloc
fi
