"""The `sr-native` command line.

    sr-native upscale IN... -o OUT [--scale 2] [--method bicubic]
    sr-native info

Until trained networks ship, `upscale` resizes with the package's own
MATLAB-compatible resize (bicubic by default).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def _inputs(paths):
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield p


def _output_path(src, out, many):
    out = Path(out)
    if many or out.is_dir() or out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        return out / src.name
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _read_image(path):
    """HxW or HxWxC array in the file's own precision (8 or 16 bits)."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(im)


def cmd_upscale(args):
    from PIL import Image

    import sr_native

    sources = list(_inputs(args.inputs))
    if not sources:
        print("sr-native upscale: no input images found", file=sys.stderr)
        return 2
    failed = 0
    for src in sources:
        try:
            arr = _read_image(src)
            out = sr_native.resize(arr, args.scale, method=args.method)
            dst = _output_path(src, args.output, len(sources) > 1)
            Image.fromarray(out).save(dst)
            if not args.quiet:
                print(f"{src} ({arr.shape[1]}x{arr.shape[0]}) -> {dst} ({out.shape[1]}x{out.shape[0]})")
        except Exception as exc:  # one bad file does not stop a folder job
            failed += 1
            print(f"sr-native upscale: {src}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cmd_info(args):
    import sr_native

    info = sr_native.build_info()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="sr-native", description="Single-image super-resolution on the CPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upscale", help="upscale images", description=(
        "Upscale image files or folders. Until trained networks ship, this resizes with the "
        "package's MATLAB-compatible kernels.\n\nexample:\n  sr-native upscale photo.png -o photo_x2.png --scale 2"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    up.add_argument("inputs", nargs="+", help="image files or folders")
    up.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    up.add_argument("--scale", type=float, default=2.0, help="scale factor (default 2)")
    up.add_argument("--method", default="bicubic",
                    choices=["nearest", "bilinear", "bicubic", "lanczos3", "area"])
    up.add_argument("-q", "--quiet", action="store_true")
    up.set_defaults(func=cmd_upscale)

    info = sub.add_parser("info", help="version, build options, CPU code path, threads")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
