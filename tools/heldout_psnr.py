"""PSNR of weight files on images that no run trained or validated on.

    python tools/heldout_psnr.py weights/edsr-baseline-x4.safetensors OTHER.safetensors

Set5 is every run's validation set, so a file picked by it can be better on Set5
and no better elsewhere. This check uses six colour images that ship with
scikit-image (always at hand, never in ../shared/data): the centre square of each,
side min(312, H, W) rounded down to a multiple of 12 (so x2, x3 and x4 all divide
it), LR made with the package's MATLAB-compatible bicubic, PSNR on the Y channel
with `scale` pixels shaved, as `sr-native eval` measures. Prints one row per file
and a column per image.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import sr_native  # noqa: E402
from sr_native.evaluation import evaluate  # noqa: E402

IMAGES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
MAX_SIDE = 312


def centre_crops():
    import skimage.data

    crops = []
    for name in IMAGES:
        img = getattr(skimage.data, name)()[..., :3]
        h, w = img.shape[:2]
        side = min(MAX_SIDE, h, w) // 12 * 12
        top, left = (h - side) // 2, (w - side) // 2
        crops.append((name, np.ascontiguousarray(img[top:top + side, left:left + side])))
    return crops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="weight files or shipped model names")
    parser.add_argument("--baseline", action="store_true", help="also print bicubic (once per scale)")
    args = parser.parse_args(argv)
    crops = centre_crops()
    print(f"{'model':40s} " + " ".join(f"{n[:10]:>10s}" for n, _ in crops) + "       mean")
    rows, bicubic_done = [], set()
    with tempfile.TemporaryDirectory() as folder:
        # Through `sr-native eval`'s own code (LR made by bicubic), so the protocol is the same.
        for name, hr in crops:
            Image.fromarray(hr).save(Path(folder) / f"{name}.png")
        for model in args.models:
            net = sr_native.load_model(model)
            s = net.scale
            baselines = ("bicubic",) if args.baseline and s not in bicubic_done else ()
            bicubic_done.add(s)
            result = evaluate(folder, s, model=net, baselines=baselines, make_lr=True)
            for method in result.methods():
                psnr = {r["image"]: r["psnr"] for r in result.rows if r["method"] == method}
                vals = [psnr[n] for n, _ in crops]
                label = f"  bicubic x{s}" if method == "bicubic" else f"{Path(model).stem} x{s}"
                rows.append((label, vals))
                print(f"{label:40s} " + " ".join(f"{v:10.2f}" for v in vals) + f" {np.mean(vals):10.3f}",
                      flush=True)
    return rows


if __name__ == "__main__":
    main()
