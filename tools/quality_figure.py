"""Crops of HR, bicubic and sr_native output side by side (the README's picture).

    python tools/quality_figure.py --model edsr-baseline-x2 --out docs/quality_x2.png

Uses the Set5/Set14 images of ../shared/data (or --data); the LR image is the
set's own MATLAB-made one. Each row is one image: a crop of the HR image, of
bicubic and of the model's output, with PSNR (Y channel, scale pixels shaved)
of the whole image under each.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

import sr_native  # noqa: E402
from sr_native import evaluation, metrics  # noqa: E402

# (set, image, crop top, crop left): detailed regions, crop side 96 HR pixels.
CROPS = [("set5", "butterfly", 60, 100), ("set14", "zebra", 150, 180), ("set14", "ppt3", 290, 60)]
SIDE = 96


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="edsr-baseline-x2")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "quality_x2.png"))
    args = parser.parse_args(argv)
    from PIL import Image, ImageDraw

    model = sr_native.load_model(args.model)
    zoom = 3
    cell = SIDE * zoom
    label_h = 22
    sheet = Image.new("RGB", (3 * cell + 4 * 8, len(CROPS) * (cell + label_h + 8) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (set_name, image, top, left) in enumerate(CROPS):
        pair = next(p for p in evaluation.load_pairs(Path(args.data) / set_name, args.scale) if p.name == image)
        bic = sr_native.resize(pair.lr, args.scale)
        out = sr_native.upscale(pair.lr, args.scale, model=model)
        y0 = 8 + row * (cell + label_h + 8)
        for col, (name, img) in enumerate((("HR", pair.hr), ("bicubic", bic), (Path(args.model).stem, out))):
            crop = img[top:top + SIDE, left:left + SIDE]
            tile = Image.fromarray(crop).resize((cell, cell), Image.NEAREST)
            x0 = 8 + col * (cell + 8)
            sheet.paste(tile, (x0, y0))
            text = f"{image}: {name}"
            if name != "HR":
                text += f"  {metrics.psnr(img, pair.hr, crop_border=args.scale, y_channel=True):.2f} dB"
            draw.text((x0, y0 + cell + 4), text, fill="black")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
