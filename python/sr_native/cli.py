"""The `sr-native` command line.

    sr-native upscale IN... -o OUT [--scale 2] [--method bicubic]
    sr-native train DATA --out RUN [--scale 2] [--model edsr-baseline] [--resume]
    sr-native eval --data SET [--model M] [--scale 2] [--csv FILE]
    sr-native bench [--model M] [--size WxH] [--threads N]
    sr-native info

`upscale` runs a super-resolution network (the shipped model for the scale,
or --model), or a plain resize with --method.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from .imagefiles import images_in, is_image


def _version():
    import sr_native

    return sr_native.__version__


def _show_progress(args):
    """Bars only for a person watching: not with --quiet, not when stderr is a file or pipe."""
    return not args.quiet and sys.stderr.isatty()


def _inputs(paths):
    """Files, folders (their images) and glob patterns (quoted, so the shell
    leaves them alone; ** matches across folders), in order, each once."""
    import glob

    seen = set()
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            found = images_in(p)
        elif not p.exists() and glob.has_magic(arg):
            found = sorted(Path(q) for q in glob.glob(arg, recursive=True) if is_image(q))
        else:
            found = [p]  # a missing file is reported when it is read
        for q in found:
            if q not in seen:
                seen.add(q)
                yield q


def _output_path(src, out, many, fmt=None):
    """Where src's result goes: into the folder `out` under src's name (with the
    extension `fmt` when given), or the file `out` itself for one input."""
    out = Path(out)
    if many or out.is_dir() or out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        name = src.name if not fmt else f"{src.stem}.{fmt.lstrip('.')}"
        return out / name
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _read_image(path):
    """(array, save options): the pixels, upright (EXIF orientation applied), HxW
    or HxWxC in the file's own precision (8 or 16 bits), and what to carry over
    to the output file (the ICC profile)."""
    from PIL import Image, ImageOps

    from .imagefiles import is_16bit_colour, read_16bit_colour

    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
        if is_16bit_colour(im):  # Pillow would read 8 bits
            return read_16bit_colour(path, im), ({"icc_profile": icc} if icc else {})
        im = ImageOps.exif_transpose(im)
        if im.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(im), ({"icc_profile": icc} if icc else {})


def _save_image(arr, dst, options):
    from PIL import Image

    from .imagefiles import write_16bit_colour

    fmt = Image.registered_extensions().get(dst.suffix.lower())
    if arr.dtype == np.uint16 and arr.ndim == 3:  # 16-bit colour: Pillow cannot write it
        tmp = dst.with_name(dst.name + ".part")
        try:
            write_16bit_colour(arr, tmp, fmt, options.get("icc_profile"))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(dst)
        return
    img = Image.fromarray(arr)
    if dst.suffix.lower() in (".jpg", ".jpeg"):
        if img.mode in ("RGBA", "LA"):
            raise ValueError(f"JPEG cannot keep the alpha channel; write {dst.stem}.png instead (--format png)")
        if arr.dtype != np.uint8:
            raise ValueError(f"JPEG holds 8 bits; write {dst.stem}.png or .tif to keep 16 bits")
        options = {**options, "quality": 95}
    tmp = dst.with_name(dst.name + ".part")  # a killed job leaves no half-written image under the real name
    try:
        img.save(tmp, format=fmt, **options)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dst)


def cmd_upscale(args):
    import sr_native
    from sr_native.upscaling import resolve_model

    if args.threads:
        sr_native.set_num_threads(args.threads)
    sources = list(_inputs(args.inputs))
    if not sources:
        print("sr-native upscale: no input images found", file=sys.stderr)
        return 2
    net = None
    if args.method is None:  # the network: --model, or the shipped default for the scale
        if args.scale != int(args.scale):
            print("sr-native upscale: networks upscale by 2, 3 or 4; use --method for other factors",
                  file=sys.stderr)
            return 2
        try:
            net = resolve_model(args.model, int(args.scale)).to(args.device)
        except (ValueError, FileNotFoundError, sr_native.cuda.CudaUnavailableError) as exc:
            print(f"sr-native upscale: {exc}", file=sys.stderr)
            return 2
    tile = "auto" if args.tile is None else (None if args.tile == 0 else args.tile)
    show = _show_progress(args)
    # One image: a bar over its tiles; several: a bar over the images.
    image_bar = None
    if show and len(sources) > 1:
        from tqdm import tqdm

        image_bar = tqdm(total=len(sources), unit="image", desc="upscale")
    failed = skipped = 0
    for src in sources:
        try:
            dst = _output_path(src, args.output, len(sources) > 1, args.format)
            if (len(sources) > 1 and not args.overwrite and dst.exists() and src.exists()
                    and dst.stat().st_mtime >= src.stat().st_mtime):
                skipped += 1  # done by an earlier run of the same job
                if image_bar is not None:
                    image_bar.update()
                continue
            arr, save_options = _read_image(src)
            if net is None:
                out = sr_native.resize(arr, args.scale, method=args.method)
            else:
                out = sr_native.upscale(arr, net.scale, model=net, tile=tile, self_ensemble=args.self_ensemble,
                                        progress=show and image_bar is None)
            _save_image(out, dst, save_options)
            if not args.quiet and image_bar is None:
                print(f"{src} ({arr.shape[1]}x{arr.shape[0]}) -> {dst} ({out.shape[1]}x{out.shape[0]})")
        except Exception as exc:  # one bad file does not stop a folder job
            failed += 1
            message = f"sr-native upscale: {src}: {exc}"
            if image_bar is not None:
                image_bar.write(message, file=sys.stderr)
            else:
                print(message, file=sys.stderr)
        if image_bar is not None:
            image_bar.update()
    if image_bar is not None:
        image_bar.close()
    if skipped and not args.quiet:
        print(f"sr-native upscale: {skipped} image(s) already done, skipped (--overwrite to redo them)")
    if failed:
        print(f"sr-native upscale: {failed} of {len(sources)} image(s) failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_train(args):
    import sr_native

    options = {k: getattr(args, k) for k in (
        "iterations", "batch_size", "patch_size", "lr", "lr_schedule", "lr_step", "lr_gamma", "lr_min",
        "loss", "clip_grad", "val_every", "checkpoint_every", "seed")}
    options.update(val_dir=args.val or "", lr_folder=args.lr_folder or "", init_from=args.init_from or "",
                   skip_init=args.skip_init)
    if args.threads:
        sr_native.set_num_threads(args.threads)
    sr_native.train(args.data, out_dir=args.out, scale=args.scale, model=args.model, resume=args.resume,
                    progress=_show_progress(args), device=args.device, **options)
    return 0


def cmd_eval(args):
    import sr_native
    from sr_native import evaluation

    if args.threads:
        sr_native.set_num_threads(args.threads)
    baselines = [] if args.no_baselines else list(evaluation.BASELINES)
    result = evaluation.evaluate(args.data, args.scale, model=args.model, baselines=baselines,
                                 lr_folder=args.lr_folder, make_lr=args.make_lr,
                                 self_ensemble=args.self_ensemble, progress=_show_progress(args))
    sources = sorted({r["lr"] for r in result.rows})
    print(f"{args.data}  x{args.scale}  ({len(result.rows) // max(1, len(result.methods()))} images, "
          f"LR: {', '.join(sources)}; PSNR/SSIM on Y, {args.scale} px shaved)")
    width = max(len(m) for m in result.methods())
    print(f"  {'method':<{width}}  PSNR dB    SSIM")
    for m in result.methods():
        print(f"  {m:<{width}}  {result.mean(m):7.3f}  {result.mean(m, 'ssim'):.4f}")
    if args.csv:
        result.write_csv(args.csv)
        print(f"per-image results: {args.csv}")
    return 0


def cmd_bench(args):
    import time

    import sr_native
    from sr_native.models.base import count_conv_flops
    from sr_native.upscaling import resolve_model

    if args.threads:
        sr_native.set_num_threads(args.threads)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"sr-native bench: --size must be WxH, got {args.size!r}", file=sys.stderr)
        return 2
    try:
        net = resolve_model(args.model, args.scale)
    except (ValueError, FileNotFoundError) as exc:
        print(f"sr-native bench: {exc}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, h, w), dtype=np.float32)
    flops = count_conv_flops(net, x)  # also the warm-up: maps the network's buffers
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        net(x)
        times.append(time.perf_counter() - t0)
    med, best = float(np.median(times)), min(times)
    info = net.info()
    print(f"{info.architecture} x{info.scale} on {w}x{h}, {sr_native.get_num_threads()} threads, "
          f"{sr_native.build_info()['isa_active']}")
    print(f"  median {med * 1e3:.1f} ms, min {best * 1e3:.1f} ms over {args.repeat} runs; "
          f"{flops / 1e9:.1f} GFLOP of convolutions, {flops / med / 1e9:.0f} GFLOP/s "
          f"({w * h / 1e6 / med:.2f} Mpx/s in)")
    if args.peak:
        peak = sr_native._core.measure_fma_peak()
        print(f"  measured fp32 FMA peak {peak:.0f} GFLOP/s: {100 * flops / med / 1e9 / peak:.0f}% "
              "(over 100% on the Winograd path, which does fewer multiplies than it is credited)")
    return 0


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def cmd_info(args):
    import sr_native

    build = sr_native.build_info()
    info = {"package": sr_native.__version__, "core_version": build.pop("version"), "cpu": _cpu_name(), **build}
    info["cuda_available"] = sr_native.cuda_available()
    if info["cuda_available"]:
        gpu = sr_native.cuda.device_info()
        info["cuda_device"] = (f"{gpu['name']} (compute capability {'.'.join(map(str, gpu['compute_capability']))}, "
                               f"{gpu['multiprocessors']} SMs, {gpu['memory_total'] >> 20} MiB)")
    else:
        info["cuda_why_not"] = sr_native.cuda_unavailable_reason()
    info["shipped_models"] = ", ".join(sr_native.shipped_models()) or "(none)"
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="sr-native", description="Single-image super-resolution on the CPU.")
    parser.add_argument("--version", action="version", version=f"sr-native {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("upscale", help="upscale images", description=(
        "Upscale image files or folders with a super-resolution network (the shipped model for the "
        "scale unless --model says otherwise), or with a plain resize (--method).\n\nexamples:\n"
        "  sr-native upscale photo.png -o photo_x2.png --scale 2\n"
        "  sr-native upscale photos/ -o out/ --scale 2 --model my_run/model.safetensors --threads 2\n"
        "  sr-native upscale photo.png -o photo_bicubic.png --scale 2 --method bicubic\n"
        "  sr-native upscale big.tif -o big_x2.tif --scale 2 --device cuda    # the CUDA build, on a GPU"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    up.add_argument("inputs", nargs="+", help="image files or folders")
    up.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    up.add_argument("--scale", type=float, default=2.0, help="scale factor (default 2)")
    up.add_argument("--model", help="shipped model name or weight file (default: the shipped model for the scale)")
    up.add_argument("--tile", type=int, help="tile size in input pixels (default: automatic; 0: whole image)")
    up.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/transposes (slower, +0.1 dB)")
    up.add_argument("--threads", type=int, default=0)
    up.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where the network runs (cuda: the CUDA build and an NVIDIA GPU)")
    up.add_argument("--format", help="output extension for folder jobs (png, jpg, webp, tif); default: the input's")
    up.add_argument("--overwrite", action="store_true",
                    help="redo images whose output exists (a folder job skips them, so it can be resumed)")
    up.add_argument("--method", default=None, choices=["nearest", "bilinear", "bicubic", "lanczos3", "area"],
                    help="resize with this kernel instead of a network")
    up.add_argument("-q", "--quiet", action="store_true")
    up.set_defaults(func=cmd_upscale)

    tr = sub.add_parser("train", help="train a network on a folder of HR images", description=(
        "Train EDSR or WDSR with sr_native's own loop. LR patches are made on the fly with the "
        "MATLAB-compatible bicubic resize unless --lr-folder is given.\n\nexamples:\n"
        "  sr-native train ../shared/data/train --val ../shared/data/set5/HR --scale 2 --out runs/edsr-x2\n"
        "  sr-native train ../shared/data/train --out runs/edsr-x2 --resume   # continue where it stopped"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tr.add_argument("data", help="folder of HR images (searched recursively), or a DIV2K root")
    tr.add_argument("--out", required=True, help="run folder: checkpoint, model, log, curves")
    tr.add_argument("--scale", type=int, default=2, choices=[2, 3, 4])
    tr.add_argument("--model", default="edsr-baseline", choices=["edsr-baseline", "edsr", "wdsr-a", "wdsr-b"])
    tr.add_argument("--val", help="folder of HR validation images")
    tr.add_argument("--lr-folder", help="folder of given LR images (DIV2K naming: 0001x2.png)")
    tr.add_argument("--init-from", help="weights whose matching tensors start the run (an x2 body for x3/x4)")
    tr.add_argument("--skip-init", default="default", choices=["default", "bicubic"],
                    help="WDSR: start the skip branch as bicubic interpolation and the tail at zero, so the "
                         "network starts at bicubic's output (useful when a new scale's tail is fresh)")
    tr.add_argument("--iterations", type=int, default=300_000)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--patch-size", type=int, default=48, help="LR patch side")
    tr.add_argument("--lr", type=float, default=1e-4)
    tr.add_argument("--lr-schedule", default="step", choices=["step", "cosine"])
    tr.add_argument("--lr-step", type=int, default=200_000)
    tr.add_argument("--lr-gamma", type=float, default=0.5)
    tr.add_argument("--lr-min", type=float, default=0.0)
    tr.add_argument("--loss", default="l1", choices=["l1", "mse"])
    tr.add_argument("--clip-grad", type=float, default=0.0, help="global gradient norm limit (0: off)")
    tr.add_argument("--val-every", type=int, default=1000)
    tr.add_argument("--checkpoint-every", type=int, default=1000)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (kernels, and patch making on the GPU)")
    tr.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where the network trains (cuda: the CUDA build and an NVIDIA GPU)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="PSNR/SSIM of a model and the resize baselines on a test set", description=(
        "Evaluate with the published protocol: HR cropped to a multiple of the scale, the set's own "
        "MATLAB-made LR images when the folder has them (SelfExSR layout image_SRF_S/), else LR made "
        "with the package's MATLAB-compatible bicubic resize; outputs rounded to 8 bits; PSNR/SSIM "
        "on the BT.601 luma with S pixels shaved. Nearest, bicubic and lanczos3 baselines are listed "
        "beside the model.\n\nexamples:\n"
        "  sr-native eval --data ../shared/data/set5 --scale 2                       # baselines only\n"
        "  sr-native eval --model edsr-baseline-x2 --data ../shared/data/set5 --scale 2 --csv set5_x2.csv\n"
        "  sr-native eval --model runs/edsr-x2/model.safetensors --data my_hr_folder --scale 2"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("--data", required=True, help="a set root (set5/), its image_SRF_S folder, or a folder of HR images")
    ev.add_argument("--scale", type=int, default=2, choices=[2, 3, 4])
    ev.add_argument("--model", help="shipped model name or weight file (omit for the baselines only)")
    ev.add_argument("--lr-folder", help="LR images for a plain HR folder (same names, or NAMEx{S})")
    ev.add_argument("--make-lr", action="store_true", help="make LR with bicubic resize even where given")
    ev.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/transposes (EDSR+)")
    ev.add_argument("--no-baselines", action="store_true")
    ev.add_argument("--csv", help="write per-image PSNR/SSIM (and the means) to this CSV file")
    ev.add_argument("--threads", type=int, default=0)
    ev.add_argument("-q", "--quiet", action="store_true")
    ev.set_defaults(func=cmd_eval)

    be = sub.add_parser("bench", help="time a network on this machine", description=(
        "Time a network's forward pass on a synthetic image (after one warm-up run): median and min, "
        "GFLOP/s of its convolutions, megapixels per second. The comparisons with PyTorch, onnxruntime, "
        "OpenCV and Pillow live in the repository's bench/ (python bench/run.py).\n\nexamples:\n"
        "  sr-native bench                                  # the shipped x2 model on 510x339\n"
        "  sr-native bench --model my.safetensors --size 1920x1080 --threads 2 --peak"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    be.add_argument("--model", help="shipped model name or weight file (default: the shipped model for the scale)")
    be.add_argument("--scale", type=int, default=2, choices=[2, 3, 4])
    be.add_argument("--size", default="510x339", help="input WxH (default 510x339)")
    be.add_argument("--repeat", type=int, default=5)
    be.add_argument("--threads", type=int, default=0)
    be.add_argument("--peak", action="store_true", help="also measure the FMA peak and the share of it reached")
    be.set_defaults(func=cmd_bench)

    info = sub.add_parser("info", help="version, build options, CPU, code path, threads, CUDA, models")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
