"""The README's model table: every shipped model's quality and speed.

    python tools/model_table.py [--data ../shared/data] [--threads 2] [--repeat 3] [--models a,b,...]

Quality: `sr-native eval`'s protocol (Set5 and Set14 at the model's scale,
the sets' own MATLAB-made LR images, PSNR/SSIM on the BT.601 luma with
`scale` pixels shaved). Speed: sr_native.upscale (the default path,
tile="auto") on a uint8 RGB photo of 510x339 and of 1920x1080 input pixels
(scikit-image's astronaut, tiled), median of --repeat runs after one
warm-up; megapixels per second counts input pixels. Prints a Markdown table
and the machine it ran on.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

import sr_native  # noqa: E402
from sr_native.evaluation import evaluate  # noqa: E402

SIZES = [(510, 339), (1920, 1080)]


def photo(width, height):
    from skimage import data

    img = data.astronaut()
    reps = (-(-height // img.shape[0]), -(-width // img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:height, :width])


def seconds(model, image, scale, repeat):
    sr_native.upscale(image, scale, model=model)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sr_native.upscale(image, scale, model=model)
        runs.append(time.perf_counter() - t0)
    return float(np.median(runs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default="", help="comma-separated (default: every shipped model)")
    args = parser.parse_args(argv)
    sr_native.set_num_threads(args.threads)
    from sr_native.cli import _cpu_name

    names = [m for m in args.models.split(",") if m] or sr_native.shipped_models()
    print(f"{_cpu_name()}, {args.threads} threads, {sr_native.build_info()['isa_active']}; "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| model | parameters | Set5 PSNR / SSIM | Set14 PSNR / SSIM | " +
          " | ".join(f"{w}x{h}: s (MP/s)" for w, h in SIZES) + " |")
    print("| --- | --- | --- | --- | " + " | ".join("---" for _ in SIZES) + " |")
    for name in names:
        model = sr_native.load_model(name)
        cells = [name, f"{model.num_parameters():,}"]
        for data_set in ("set5", "set14"):
            path = os.path.join(args.data, data_set)
            if os.path.isdir(path):
                result = evaluate(path, model.scale, model=model, baselines=())
                method = result.methods()[0]
                cells.append(f"{result.mean(method):.2f} / {result.mean(method, 'ssim'):.4f}")
            else:
                cells.append("(no data)")
        for w, h in SIZES:
            t = seconds(model, photo(w, h), model.scale, args.repeat)
            cells.append(f"{t:.3f} ({w * h / 1e6 / t:.2f})")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
