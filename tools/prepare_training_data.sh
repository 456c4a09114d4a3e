#!/usr/bin/env bash
# The training folder the shipped weights of issue 18 on were trained on, built
# in place (nothing is copied into the repository):
#   OUTDIR/{t91,bsd200,general100}  links to ../shared/data/train/* (391 images)
#   OUTDIR/debian                   the 64 photographs of ../shared/data/debian-photos
#                                   (make_training_set.sh; needs apt-get, ~1.3 GB temporary)
# Usage: tools/prepare_training_data.sh OUTDIR   (SR_NATIVE_SHARED_DATA overrides ../shared/data)
set -euo pipefail
out=${1:?usage: tools/prepare_training_data.sh OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SR_NATIVE_SHARED_DATA:-$here/../shared/data}
[ -d "$shared/train" ] || { echo "no training images at $shared/train" >&2; exit 1; }
mkdir -p "$out"
for set in t91 bsd200 general100; do
  ln -sfn "$(cd "$shared/train/$set" && pwd)" "$out/$set"
done
if [ ! -f "$out/debian/manifest.tsv" ]; then
  bash "$shared/debian-photos/make_training_set.sh" "$out/debian"
fi
echo "training folder ready: $out ($(find -L "$out" -name '*.png' | wc -l) PNG files)"
