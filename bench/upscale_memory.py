"""Peak memory of sr_native.upscale on a 3840x2160 RGB image at x2 through
EDSR-baseline (random weights: memory and time do not depend on them).

    python bench/upscale_memory.py [--height 2160 --width 3840] [--tile auto]

Prints peak RSS of the process (the bound README documents) and wall time.
"""

import argparse
import resource
import time

import numpy as np

import sr_native
from sr_native.models import EDSR


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--tile", default="auto")
    args = parser.parse_args()
    tile = args.tile if args.tile in ("auto",) else (None if args.tile == "none" else int(args.tile))

    model = EDSR.from_preset("edsr-baseline", 2)
    rng = np.random.default_rng(0)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.02
    img = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    out = sr_native.upscale(img, 2, model=model, tile=tile, progress=True)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.width}x{args.height} -> {out.shape[1]}x{out.shape[0]} tile={tile}: "
          f"{elapsed:.1f} s, peak RSS {peak:.0f} MiB (before the call: {before:.0f} MiB)")


if __name__ == "__main__":
    main()
