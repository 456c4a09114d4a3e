"""A real JPEG photo upscaled by bicubic, edsr-baseline and a photo model, side by side.

    python tools/photo_figure.py --models edsr-baseline-x4 photo-x4 --out docs/photo_x4.png

The photo is scikit-image's `coffee` (a camera photograph shipped with
scikit-image), saved as JPEG at --quality (30 by default, where the clean
networks were seen to sharpen the 8x8 blocks) and upscaled as it is: there is
no HR reference, so the figures printed are no-reference ones, on the whole
upscaled image's luma (MATLAB's BT.601 Y, 0-255):

- sharpness: the mean Sobel gradient magnitude (higher is sharper, but noise
  and block edges raise it too, hence the next figure);
- blockiness: the mean absolute step across the JPEG grid's lines (every 8
  input pixels, i.e. 8 x scale output pixels) over the mean step between the
  other neighbouring pixels. 1.0 means the grid is invisible; the larger, the
  more the blocks show.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

import sr_native  # noqa: E402
from sr_native.colour import rgb_to_ycbcr  # noqa: E402
from sr_native.degradations import jpeg  # noqa: E402

# Detailed regions of the JPEG input (top, left), crop side in input pixels.
CROPS = [(150, 240), (40, 420)]
SIDE = 64


def luma(image):
    return rgb_to_ycbcr(image.astype(np.float32) / 255.0)[..., 0] * 255.0


def sharpness(image):
    """Mean Sobel gradient magnitude of the luma."""
    y = np.pad(luma(image), 1, mode="edge").astype(np.float64)
    gx = (y[:-2, 2:] + 2 * y[1:-1, 2:] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[1:-1, :-2] + y[2:, :-2])
    gy = (y[2:, :-2] + 2 * y[2:, 1:-1] + y[2:, 2:]) - (y[:-2, :-2] + 2 * y[:-2, 1:-1] + y[:-2, 2:])
    return float(np.hypot(gx, gy).mean())


def blockiness(image, period):
    """Mean |step| across the lines of a grid of `period` pixels over the mean |step| elsewhere."""
    y = luma(image).astype(np.float64)
    steps_x = np.abs(np.diff(y, axis=1))  # step between columns j and j + 1
    steps_y = np.abs(np.diff(y, axis=0))
    on_x = (np.arange(steps_x.shape[1]) + 1) % period == 0
    on_y = (np.arange(steps_y.shape[0]) + 1) % period == 0
    across = np.concatenate([steps_x[:, on_x].ravel(), steps_y[on_y].ravel()])
    inside = np.concatenate([steps_x[:, ~on_x].ravel(), steps_y[~on_y].ravel()])
    return float(across.mean() / inside.mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["edsr-baseline-x4", "photo-x4"])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--quality", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "docs" / "photo_x4.png"))
    args = parser.parse_args(argv)
    from PIL import Image, ImageDraw
    from skimage import data

    photo = np.rint(jpeg(data.coffee() / 255.0, args.quality) * 255).astype(np.uint8)
    s = args.scale
    results = [("bicubic", sr_native.resize(photo, s))]
    results += [(Path(m).stem, sr_native.upscale(photo, s, model=m)) for m in args.models]
    print(f"skimage.data.coffee() {photo.shape[1]}x{photo.shape[0]}, JPEG quality {args.quality}, x{s}")
    print(f"{'method':<22} {'sharpness':>10} {'blockiness':>11}")
    for name, out in results:
        print(f"{name:<22} {sharpness(out):>10.2f} {blockiness(out, 8 * s):>11.3f}")

    cell = SIDE * s
    label_h = 22
    sheet = Image.new("RGB", (len(results) * (cell + 8) + 8, len(CROPS) * (cell + label_h + 8) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (top, left) in enumerate(CROPS):
        y0 = 8 + row * (cell + label_h + 8)
        for col, (name, out) in enumerate(results):
            crop = out[top * s:(top + SIDE) * s, left * s:(left + SIDE) * s]
            x0 = 8 + col * (cell + 8)
            sheet.paste(Image.fromarray(crop), (x0, y0))
            draw.text((x0, y0 + cell + 4), f"{name} (JPEG q{args.quality} input)", fill="black")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
