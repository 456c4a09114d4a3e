"""The `sr-native` command line.

    sr-native upscale IN... -o OUT [--scale 2] [--model M | --method bicubic]
    sr-native train DATA --out RUN [--scale 2] [--model edsr-baseline] [--resume]
    sr-native eval --data SET [--model M] [--scale 2] [--csv FILE]
    sr-native bench [--model M | --compare] [--size WxH] [--threads N]
    sr-native info

`upscale` runs a super-resolution network (the shipped model for the scale,
or --model), or a plain resize with --method.

Exit status: 0 done; 1 some work was attempted and failed (a bad image in a
folder job, a disk error, an unexpected error); 2 bad arguments or inputs,
found before any work (usage errors, missing files and folders, unusable
models, conflicting options); 130 interrupted (Ctrl-C). Every error is one
line `sr-native COMMAND: ...` on stderr, never a traceback.
"""

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .imagefiles import glob_images, glob_root, images_in, is_image, is_regular_file

# Formats that hold several frames: animated GIF, APNG, animated WebP, multi-page TIFF.
_MULTI_FRAME_FORMATS = {"GIF", "PNG", "WEBP", "TIFF"}

_SHARED_DATA_HINT = ("the examples' ../shared/data is the development data folder beside a checkout, absent "
                     "from a fresh clone: download the benchmark sets (Set5, Set14, ...) or DIV2K and give "
                     "their folder (the tests look for them through SR_NATIVE_SHARED_DATA)")


class UsageError(Exception):
    """Bad arguments or inputs found before any work: exit status 2."""


def _version():
    import sr_native

    return sr_native.__version__


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _show_progress(args):
    """Bars only for a person watching: not with --quiet, not when stderr is a file or pipe."""
    return not args.quiet and sys.stderr.isatty()


# ------------------------------------------------------------- argument types
def _int_in(lo, hi=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def _float_in(lo=None, *, above=None, hi=None):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if (lo is not None and value < lo) or (above is not None and value <= above) or (hi is not None
                                                                                           and value > hi):
            bound = (f"> {above}" if above is not None else f">= {lo}") + (f" and <= {hi}" if hi is not None else "")
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


_MAX_THREADS = 1024  # a sanity bound; set_num_threads refuses more than the machine can use


def _size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be WxH, got {text!r}") from None
    if not (1 <= w <= 1 << 15 and 1 <= h <= 1 << 15):
        raise argparse.ArgumentTypeError(f"width and height must be 1..{1 << 15}, got {text!r}")
    return w, h


_size.__name__ = "size"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`sr-native upscale: ... (see --help)`), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; "(default: X)" after each option that has a default worth stating."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)

    def _split_lines(self, text, width):  # no line break inside a model name such as edsr-baseline-x2
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


# ------------------------------------------------------------- upscale: inputs and outputs
def _inputs(args, not_regular):
    """[(file, base folder)] from files, folders and glob patterns (quoted, so
    the shell leaves them alone; ** matches across folders), in order, each
    file once. Missing files, non-regular files named on the command line and
    folders or patterns without images are usage errors."""
    import glob

    found, seen, problems = [], set(), []
    # Earlier results in an output folder inside an input folder are not inputs.
    out_folder = os.path.realpath(args.output) + os.sep
    for arg in args.inputs:
        p = Path(arg)
        if p.is_dir():
            files, base = images_in(p, recursive=args.recursive, not_regular=not_regular), p
            if not files and not not_regular:
                problems.append(f"no images in folder {arg}" + ("" if args.recursive else
                                                                 " (--recursive to include its subfolders)"))
        elif os.path.lexists(arg):
            if not is_regular_file(p):
                problems.append(f"{arg}: not a regular file (a FIFO, socket or device)" if p.exists()
                                else f"{arg}: dangling link")
                continue
            files, base = [p], p.parent
        elif glob.has_magic(arg):
            files, base = glob_images(arg, not_regular=not_regular), glob_root(arg)[0]
            if not files:
                problems.append(f"no images match {arg}")
        else:
            problems.append(f"no such file or folder: {arg}")
            continue
        base_real = os.path.realpath(base) + os.sep
        below = out_folder != base_real and out_folder.startswith(base_real)
        for f in files:
            key = os.path.realpath(f)
            if below and f != p and key.startswith(out_folder):
                continue
            if key not in seen:
                seen.add(key)
                found.append((f, base))
    if problems:
        raise UsageError("; ".join(problems))
    return found


def _output_format(path):
    """Pillow's format name for a file's extension, or a usage error."""
    from PIL import Image

    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise UsageError(f"cannot write {Path(path).suffix or 'files without an extension'!s} ({path}): "
                         "use .png, .jpg, .webp, .tif, .bmp or .gif")
    return fmt


def _plan_outputs(args, sources):
    """[(src, dst)], and whether the output is a folder. The rules (README):
    - one input and -o with an extension (not an existing folder): that file;
    - otherwise -o is a folder; each output keeps its input's path relative to
      the common folder of the inputs (a folder argument, a glob's fixed
      start, a file's own folder), so a/x.png and b/x.png give OUT/a/x.png
      and OUT/b/x.png; --format changes the extension;
    - two inputs that would write one output, or an output that is one of
      the inputs (without --overwrite), are refused before any work."""
    out = Path(args.output)
    if args.output == "-":
        raise UsageError("-o - (standard output) is not supported: give an output file or folder")
    folder_out = len(sources) > 1 or out.is_dir() or out.suffix == ""
    if not folder_out:
        if args.format:
            raise UsageError(f"--format applies to output folders; the output file {args.output} "
                             "already names its format by its extension")
        plan = [(sources[0][0], out)]
    else:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{len(sources)} inputs need an output folder, and {args.output} is not a folder")
        if not out.exists() and out.suffix and is_image(out):
            raise UsageError(f"{len(sources)} inputs need an output folder, got the file name {args.output}")
        root = os.path.commonpath([os.path.abspath(base) for _, base in sources])
        plan = []
        for src, _ in sources:
            rel = Path(os.path.relpath(os.path.abspath(src), root))
            if args.format:
                rel = rel.with_suffix("." + args.format.lstrip("."))
            plan.append((src, out / rel))
    for _, dst in plan:
        _output_format(dst)
    by_dst = {}
    inputs = {os.path.realpath(src) for src, _ in plan}
    for src, dst in plan:
        key = os.path.realpath(dst)
        if key in by_dst:
            raise UsageError(f"{by_dst[key]} and {src} would both be written to {dst}")
        by_dst[key] = src
        if key in inputs and not args.overwrite:
            raise UsageError(f"the output {dst} is the input {src}: choose another output (or --overwrite "
                             "to replace the input)")
    return plan, folder_out


# ------------------------------------------------------------- upscale: reading and writing
def _read_image(path):
    """(frames, meta): frames a list of (pixels, back) with pixels upright (EXIF
    orientation applied), in the file's own precision (8 or 16 bits) and in a
    layout the network takes, and back(result) the result in the file's own
    layout (gray+alpha stays gray+alpha); meta the ICC profile, EXIF, frame
    durations and loop count to carry over."""
    from PIL import Image, ImageOps, ImageSequence

    from .imagefiles import is_16bit_colour, network_layout, pil_to_array, read_16bit_colour

    if not is_regular_file(path):  # a FIFO would block open() forever
        raise ValueError("not a regular file (a FIFO, socket or device): skipped")
    with Image.open(path) as im:
        deep = is_16bit_colour(im)  # asked first: getexif() loads a PNG, which forgets its raw mode
        meta = {"icc_profile": im.info.get("icc_profile"), "exif": im.getexif(), "durations": None,
                "loop": im.info.get("loop")}
        if deep:  # Pillow would read 8 bits
            return [network_layout(read_16bit_colour(path, im))], meta
        if getattr(im, "n_frames", 1) > 1 and im.format in _MULTI_FRAME_FORMATS:
            # A few KB of GIF can declare thousands of large frames: check the
            # decoded size against the memory left before decoding any.
            import sr_native

            decoded = im.n_frames * im.width * im.height * 4
            avail = sr_native._core.available_memory()
            if 0 <= avail < decoded:
                raise MemoryError(f"its {im.n_frames} frames of {im.width}x{im.height} need {_bytes_text(decoded)} "
                                  f"decoded, but only {_bytes_text(avail)} are available")
            frames, durations = [], []
            for frame in ImageSequence.Iterator(im):
                frame.load()
                durations.append(frame.info.get("duration"))
                frames.append(np.asarray(ImageOps.exif_transpose(frame).convert("RGBA")))
            if all((f[..., 3] == 255).all() for f in frames):
                frames = [np.ascontiguousarray(f[..., :3]) for f in frames]
            meta["durations"] = durations
            return [(f, lambda out: out) for f in frames], meta
        return [pil_to_array(ImageOps.exif_transpose(im))], meta


def _bytes_text(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _check_result_fits(pixels, scale, n_frames):
    """MemoryError before the work when the result and Pillow's copy of it for
    the encoder (4 bytes a pixel for RGB, which Pillow stores padded) would not
    fit the memory that is left: the library checks its own arrays, but the
    encoder's copy comes after them and would get the process killed."""
    import sr_native

    h, w = pixels.shape[:2]
    out_h, out_w = int(round(h * scale)), int(round(w * scale))
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    need = n_frames * out_h * out_w * (channels * pixels.itemsize + 4)
    avail = sr_native._core.available_memory()
    if 0 <= avail < need:
        raise MemoryError(f"the {out_w}x{out_h} result and its copy for the encoder need about "
                          f"{_bytes_text(need)}, but only {_bytes_text(avail)} are available")


def _write_atomically(dst, write):
    """write(temp_path) into a short temporary name beside dst, then rename:
    a killed job leaves no half-written image under the real name, and a long
    file name does not grow past the file system's limit. The file gets the
    mode a new file would (0666 less the umask), not mkstemp's 0600."""
    import tempfile

    from .weights import new_file_mode

    try:
        fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".sr-native-", suffix=".part")
    except OSError as exc:  # name the file asked for, not the temporary one
        raise type(exc)(exc.errno, f"cannot write {dst}: {exc.strerror}") from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_options(fmt, arr, meta, args):
    """Pillow save options: the ICC profile when its colour space is the
    output's, the camera EXIF (orientation reset to 1: the pixels are stored
    upright now), and JPEG/WebP quality."""
    from .imagefiles import icc_profile_fits

    channels = 1 if arr.ndim == 2 else arr.shape[2]
    options = {}
    icc = meta.get("icc_profile")
    if icc and icc_profile_fits(icc, channels):
        options["icc_profile"] = icc
    exif = meta.get("exif")
    if exif is not None and len(exif) and fmt in ("JPEG", "WEBP", "PNG"):
        exif[0x0112] = 1
        sub_ifd = exif.get_ifd(0x8769)  # Exif IFD: the pixel size tags, if any, give the new size
        for tag, size in ((0xA002, arr.shape[1]), (0xA003, arr.shape[0])):
            if tag in sub_ifd:
                sub_ifd[tag] = size
        options["exif"] = exif.tobytes()
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = 95 if args.quality is None else args.quality
    if fmt == "WEBP" and args.lossless:
        options["lossless"] = True
    return options


def _save_image(frames, dst, meta, args):
    """Write one image (or every frame of an animation) to dst, atomically."""
    from PIL import Image

    from .imagefiles import write_16bit_colour

    fmt = _output_format(dst)
    arr = frames[0]
    options = _save_options(fmt, arr, meta, args)
    if len(frames) > 1 and fmt not in _MULTI_FRAME_FORMATS:
        raise ValueError(f"an animation of {len(frames)} frames cannot be written as {fmt}; write .gif, .png "
                         "(APNG) or .webp to keep every frame")
    if arr.dtype == np.uint16 and arr.ndim == 3:  # 16-bit with several channels: Pillow cannot write it
        _write_atomically(dst, lambda tmp: write_16bit_colour(arr, tmp, fmt, options.get("icc_profile")))
        return
    if fmt == "JPEG":
        if arr.ndim == 3 and arr.shape[2] in (2, 4):
            raise ValueError(f"JPEG cannot keep the alpha channel; write {dst.stem}.png instead (--format png)")
        if arr.dtype != np.uint8:
            raise ValueError(f"JPEG holds 8 bits; write {dst.stem}.png or .tif to keep 16 bits")
    images = [Image.fromarray(f) for f in frames]
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:])
        if meta.get("durations") and all(d is not None for d in meta["durations"]):
            options["duration"] = [int(round(d)) for d in meta["durations"]]
        if meta.get("loop") is not None:
            options["loop"] = meta["loop"]
        if fmt == "GIF" and images[0].mode == "RGBA":
            options["disposal"] = 2  # full frames with transparency: clear before each
    _write_atomically(dst, lambda tmp: images[0].save(tmp, format=fmt, **options))


def _check_option_conflicts(args):
    if args.method is not None:
        for given, name in ((args.model, "--model"), (args.self_ensemble, "--self-ensemble"),
                            (args.tile is not None, "--tile"), (args.device is not None, "--device"),
                            (args.outscale is not None, "--outscale")):
            if given:
                raise UsageError(f"{name} applies to the network; --method {args.method} is a plain resize")
    if args.lossless and args.quality is not None:
        raise UsageError("--lossless and --quality exclude each other (lossless WebP has no quality)")


def _check_format_options(args, plan):
    formats = {_output_format(dst) for _, dst in plan}
    if args.quality is not None and not formats & {"JPEG", "WEBP"}:
        raise UsageError(f"--quality applies to JPEG and WebP output; the output is {', '.join(sorted(formats))}")
    if args.lossless and "WEBP" not in formats:
        raise UsageError(f"--lossless applies to WebP output; the output is {', '.join(sorted(formats))}")


def _model_for(args, command):
    """The network and its scale from --model and --scale: with --model the
    model's own scale (a different --scale is a usage error naming both);
    without it, the shipped model for --scale (2 when not given)."""
    from .upscaling import resolve_model
    from .weights import DEFAULT_MODEL

    if args.model is None:
        scale = 2 if args.scale is None else args.scale
        if scale != int(scale) or int(scale) < 2:
            raise UsageError(f"networks upscale by an integer factor of at least 2, got --scale {args.scale:g}"
                             + ("; use --method for other factors" if command == "upscale" else ""))
        name = DEFAULT_MODEL.format(scale=int(scale))
    else:
        name = args.model
        _check_regular(name, "--model")
    given = int(args.scale) if args.scale is not None and args.scale == int(args.scale) and args.scale in (2, 3, 4) \
        else None  # for files that do not record their scale
    try:
        net = resolve_model(name, given if args.model is not None else None)
    except Exception as exc:  # any failure to load a model (missing, malformed, too large) is a bad argument
        raise UsageError(f"--model {name}: {_one_line(exc)}") from None
    if args.scale is not None and args.scale != net.scale:
        raise UsageError(f"--scale {args.scale:g} does not match the model {name}, which upscales x{net.scale} "
                         "(leave --scale out to use the model's scale)")
    return net, name


def _check_tile(net, tile, device, self_ensemble):
    """upscale's own check of the tile size, on a tiny image, before any file is read."""
    import sr_native

    try:
        sr_native.upscale(np.zeros((2, 2, 3), np.uint8), net.scale, model=net, tile=tile, device=device,
                          self_ensemble=self_ensemble)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--tile {tile}: {_one_line(exc).removeprefix('upscale: ')}") from None


def cmd_upscale(args):
    import sr_native

    _check_option_conflicts(args)
    not_regular = []
    sources = _inputs(args, not_regular)
    if not sources and not not_regular:
        raise UsageError("no input images found")
    plan, folder_out = _plan_outputs(args, sources) if sources else ([], True)
    _check_format_options(args, plan)
    if args.threads:
        sr_native.set_num_threads(args.threads)
    net = None
    if args.method is None:  # the network: --model, or the shipped default for the scale
        net, name = _model_for(args, "upscale")
        net = net.to(args.device or "cpu")
        tile = "auto" if args.tile is None else (None if args.tile == 0 else args.tile)
        if args.tile:
            _check_tile(net, tile, args.device, args.self_ensemble)
        if not args.quiet:
            info = net.info()
            print(f"model: {name} ({info.architecture} x{net.scale})")
    elif args.scale is None:
        args.scale = 2.0

    show = _show_progress(args)
    # One image: a bar over its tiles; several: a bar over the images.
    image_bar = None
    if show and len(plan) > 1:
        from tqdm import tqdm

        image_bar = tqdm(total=len(plan), unit="image", desc="upscale")

    def report(message):
        if image_bar is not None:
            image_bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    failed = skipped = 0
    for path in not_regular:  # FIFOs, sockets, devices, dangling links found in folders
        failed += 1
        report(f"sr-native upscale: {path}: not a regular file (a FIFO, socket, device or dangling link): skipped")
    for src, dst in plan:
        try:
            if (len(plan) > 1 and not args.overwrite and dst.exists()
                    and dst.stat().st_mtime >= src.stat().st_mtime):
                skipped += 1  # done by an earlier run of the same job
                if image_bar is not None:
                    image_bar.update()
                continue
            frames, meta = _read_image(src)
            results = []
            for pixels, back in frames:
                _check_result_fits(pixels, args.scale if net is None else max(net.scale, args.outscale or 0),
                                   len(frames))
                if net is None:
                    out = sr_native.resize(pixels, args.scale, method=args.method)
                else:
                    out = sr_native.upscale(pixels, net.scale, model=net, tile=tile, outscale=args.outscale,
                                            self_ensemble=args.self_ensemble,
                                            progress=show and image_bar is None and len(frames) == 1)
                results.append(back(out))
            dst.parent.mkdir(parents=True, exist_ok=True)
            _save_image(results, dst, meta, args)
            if not args.quiet and image_bar is None:
                h, w = frames[0][0].shape[:2]
                oh, ow = results[0].shape[:2]
                extra = f", {len(frames)} frames" if len(frames) > 1 else ""
                print(f"{src} ({w}x{h}{extra}) -> {dst} ({ow}x{oh})")
        except Exception as exc:  # one bad file does not stop a folder job
            failed += 1
            report(f"sr-native upscale: {src}: {_one_line(exc)}")
        if image_bar is not None:
            image_bar.update()
    if image_bar is not None:
        image_bar.close()
    if skipped and not args.quiet:
        print(f"sr-native upscale: {skipped} image(s) already done, skipped (--overwrite to redo them)")
    if failed:
        total = len(plan) + len(not_regular)
        print(f"sr-native upscale: {failed} of {total} image(s) failed", file=sys.stderr)
    return 1 if failed else 0


# ------------------------------------------------------------- train, eval, bench, info
def _check_regular(path, option):
    """An existing path given for a file must be a regular file: reading a FIFO
    blocks, writing one blocks until someone reads it."""
    if os.path.lexists(path) and not is_regular_file(path):
        what = "a folder" if Path(path).is_dir() else "not a regular file"
        raise UsageError(f"{option}: {path} is {what}")


def _check_folder(path, option):
    p = Path(path)
    if not p.exists():
        hint = f" ({_SHARED_DATA_HINT})" if "shared/data" in Path(path).as_posix() else ""
        raise UsageError(f"{option}: no such folder: {path}{hint}")
    if not p.is_dir():
        raise UsageError(f"{option}: not a folder: {path}")


def cmd_train(args):
    import sr_native

    _check_folder(args.data, "DATA")
    for value, option in ((args.val, "--val"), (args.lr_folder, "--lr-folder")):
        if value is not None:
            _check_folder(value, option)
    if args.init_from is not None:
        _check_regular(args.init_from, "--init-from")
    if args.init_from is not None and not Path(args.init_from).exists():
        from .weights import shipped_models

        if args.init_from not in shipped_models():
            raise UsageError(f"--init-from: no such weight file or shipped model: {args.init_from}")
    run = Path(args.out)
    if run.exists() and not run.is_dir():
        raise UsageError(f"--out: {args.out} is a file; the run needs a folder")
    ckpt = run / "checkpoint.safetensors"
    if args.resume and not ckpt.exists():
        raise UsageError(f"--resume: no checkpoint at {ckpt} to resume from (leave out --resume to start a run)")
    if not args.resume and any((run / name).exists() for name in
                               ("checkpoint.safetensors", "model.safetensors", "log.csv")):
        raise UsageError(f"--out: {args.out} already holds a run; --resume to continue it, or choose a new folder")
    options = {k: getattr(args, k) for k in (
        "iterations", "batch_size", "patch_size", "lr", "lr_schedule", "lr_step", "lr_gamma", "lr_min",
        "loss", "clip_grad", "val_every", "checkpoint_every", "seed")}
    options.update(val_dir=args.val or "", lr_folder=args.lr_folder or "", init_from=args.init_from or "",
                   skip_init=args.skip_init, patch_schedule=args.patch_schedule or [])
    if args.degradation is not None:
        from .degradations import PRESETS as DEGRADATIONS

        if args.degradation not in DEGRADATIONS:
            _check_regular(args.degradation, "--degradation")
            if not Path(args.degradation).exists():
                raise UsageError(f"--degradation: {args.degradation} is neither a preset "
                                 f"({', '.join(sorted(DEGRADATIONS))}) nor a JSON file")
        options["degradation"] = args.degradation
    if args.perceptual is not None:
        _check_regular(args.perceptual, "--perceptual")
    if args.perceptual_layers is not None and args.perceptual is None:
        raise UsageError("--perceptual-layers: needs --perceptual VGG19.pth")
    options.update(pixel_weight=args.pixel_weight, perceptual=args.perceptual or "",
                   perceptual_layers=args.perceptual_layers or {}, perceptual_weight=args.perceptual_weight,
                   gan=args.gan or "", gan_weight=args.gan_weight, discriminator=args.discriminator,
                   d_lr=args.d_lr)
    if args.luma:
        options["model_args"] = {"n_colors": 1}
    if args.threads:
        sr_native.set_num_threads(args.threads)
    if not args.quiet:
        print(f"train: {args.model} x{args.scale} on {args.data}, writing {args.out}")
    sr_native.train(args.data, out_dir=args.out, scale=args.scale, model=args.model, resume=args.resume,
                    progress=_show_progress(args), device=args.device, **options)
    return 0


def cmd_eval(args):
    import sr_native
    from sr_native import evaluation

    _check_folder(args.data, "--data")
    if args.lr_folder is not None:
        _check_folder(args.lr_folder, "--lr-folder")
    if args.degrade is not None:
        from .degradations import parse_spec

        parse_spec(args.degrade)  # a bad spec stops here, before a model is loaded
    if args.csv is not None:
        _check_regular(args.csv, "--csv")
        if not Path(args.csv).resolve().parent.is_dir():
            raise UsageError(f"--csv: no folder for {args.csv}")
    if args.threads:
        sr_native.set_num_threads(args.threads)
    if args.model is not None:
        net, name = _model_for(args, "eval")
        args.scale = net.scale
        if not args.quiet:
            print(f"model: {name} ({net.info().architecture} x{net.scale})")
    elif args.scale is None:
        args.scale = 2
    if args.scale not in (2, 3, 4):
        raise UsageError(f"--scale must be 2, 3 or 4, got {args.scale:g}")
    args.scale = int(args.scale)
    baselines = [] if args.no_baselines else list(evaluation.BASELINES)
    if not baselines and args.model is None:
        raise UsageError("--no-baselines without --model leaves nothing to evaluate")
    result = evaluation.evaluate(args.data, args.scale, model=args.model, baselines=baselines,
                                 lr_folder=args.lr_folder, make_lr=args.make_lr,
                                 self_ensemble=args.self_ensemble, progress=_show_progress(args),
                                 degrade=args.degrade, degrade_seed=args.degrade_seed)
    sources = sorted({r["lr"] for r in result.rows})
    seed = f" (degrade seed {result.degrade_seed})" if result.degrade else ""
    print(f"{args.data}  x{args.scale}  ({len(result.rows) // max(1, len(result.methods()))} images, "
          f"LR: {', '.join(sources)}{seed}; PSNR/SSIM on Y, {args.scale} px shaved)")
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

    if args.threads:
        sr_native.set_num_threads(args.threads)
    w, h = args.size
    if args.compare:
        return _bench_compare(args)
    net, name = _model_for(args, "bench")
    if not args.quiet:
        print(f"model: {name}")
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


def _bench_compare(args):
    """bench --compare: EDSR-baseline beside PyTorch, onnxruntime and OpenVINO (sr_native.benchmarks)."""
    from . import benchmarks

    if args.model:
        raise UsageError("--compare builds its own networks (EDSR-baseline with random weights, the same in "
                         "every column); leave out --model")
    scale = 2 if args.scale is None else args.scale
    if scale not in (2, 4):
        raise UsageError(f"--compare times EDSR-baseline x2 or x4, got --scale {scale:g}")
    if benchmarks.optional("torch") is None:
        versions = benchmarks.peer_versions()
        raise UsageError("--compare needs PyTorch to build the peers' networks (pip install torch); peers here: "
                         + ", ".join(f"{k} {v}" for k, v in versions.items()))
    w, h = args.size
    benchmarks.compare_networks([f"edsr-baseline-x{int(scale)}"], width=w, height=h, threads=args.threads,
                                repeat=args.repeat)
    return 0


def cmd_inspect(args):
    from PIL import Image

    from .inspection import describe, first_layer_filters
    from .weights import new_file_mode

    net, name = _model_for(args, "inspect")
    if args.filters:
        _check_regular(args.filters, "--filters")
        if Path(args.filters).suffix.lower() != ".png":
            raise UsageError(f"--filters: {args.filters} must be a .png file")
        if not Path(args.filters).resolve().parent.is_dir():
            raise UsageError(f"--filters: the folder of {args.filters} does not exist")
    d = describe(net)
    print(f"{name}: {d.architecture} x{d.scale}  {', '.join(f'{k}={v}' for k, v in d.arch_args.items())}")
    print(f"  parameters        {d.parameters:,}")
    print(f"  FLOPs / output px {d.flops_per_output_pixel:,.0f} ({d.flops_per_output_pixel / 2:,.0f} "
          "multiply-adds, every convolution as it runs)")
    print(f"  receptive radius  {d.receptive_radius} input pixels (tiles overlap 4x that)")
    if getattr(net, "inexact_tiling", ""):
        print(f"  tiling            not exact: {net.inexact_tiling}")
    if not args.quiet:
        width = max(len(r.name) for r in d.layers)
        kind_width = max(len(r.kind) for r in d.layers)
        print(f"  {'layer':<{width}}  {'kind':<{kind_width}}  {'weight shape':<18}  parameters")
        for r in d.layers:
            print(f"  {r.name:<{width}}  {r.kind:<{kind_width}}  {str(r.shape):<18}  {r.parameters:,}")
    if args.filters:
        image, layer = first_layer_filters(net)
        Image.fromarray(image).save(args.filters)
        os.chmod(args.filters, new_file_mode())
        print(f"first layer's filters ({layer}): {args.filters}")
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


# ------------------------------------------------------------- the parser
def _shipped_models():
    try:
        from .weights import shipped_models

        return ", ".join(shipped_models()) or "none"
    except Exception:  # the help must print even if the weights folder is unreadable
        return "none found"


def _layer_weights(text):
    """'conv5_4:1.0,conv4_4:0.5' -> {'conv5_4': 1.0, 'conv4_4': 0.5} (weights finite, >= 0)."""
    weights = {}
    for part in text.split(","):
        name, sep, weight = part.strip().partition(":")
        try:
            value = float(weight)
        except ValueError:
            value = float("nan")
        if not sep or not name.strip() or not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"expected LAYER:WEIGHT,... with weights >= 0, got {text!r}")
        weights[name.strip()] = value
    return weights


def _patch_schedule(text):
    """'0:24,20000:32' -> [[0, 24], [20000, 32]] (starts increasing, sizes >= 1)."""
    schedule = []
    for part in text.split(","):
        start, sep, size = part.strip().partition(":")
        if not sep or not start.strip().isdigit() or not size.strip().isdigit() or int(size) < 1:
            raise argparse.ArgumentTypeError(f"expected START:SIZE,... with whole numbers (SIZE >= 1), got {text!r}")
        if schedule and int(start) <= schedule[-1][0]:
            raise argparse.ArgumentTypeError(f"the starts must increase, got {text!r}")
        schedule.append([int(start), int(size)])
    return schedule


def _add_common(p, *, threads=True):
    if threads:
        p.add_argument("--threads", type=_int_in(0, _MAX_THREADS), default=0,
                       help="CPU threads for the kernels (0: the library's default, all cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only results and errors; no progress bars")


def build_parser():
    from .training.loop import PRESETS as TRAIN_PRESETS

    parser = _Parser(prog="sr-native", description="Single-image super-resolution on the CPU.",
                     epilog="exit status: 0 done, 1 some work failed, 2 bad arguments or inputs (nothing "
                            "done), 130 interrupted")
    parser.add_argument("--version", action="version", version=f"sr-native {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    models = _shipped_models()

    up = sub.add_parser("upscale", help="upscale images", formatter_class=_Help, description=(
        "Upscale image files or folders with a super-resolution network (the shipped model for the\n"
        "scale unless --model says otherwise), or with a plain resize (--method).\n\n"
        "Outputs: one input and -o NAME.EXT writes that file. Otherwise -o is a folder (created\n"
        "when missing; a name without an extension is a folder) and each output keeps its input's\n"
        "path relative to the inputs' common folder (a/x.png b/x.png -> OUT/a/x.png OUT/b/x.png).\n"
        "Writing over an input needs --overwrite; two inputs that would write one file are refused.\n"
        "Animated GIF/PNG/WebP and multi-page TIFF: every frame is upscaled (durations, loop kept).\n\n"
        "examples:\n"
        "  sr-native upscale photo.png -o photo_x2.png --scale 2\n"
        "  sr-native upscale photos/ -o out/ --model my_run/model.safetensors --threads 2\n"
        "  sr-native upscale \"scans/**/*.tif\" -o out/ --format png\n"
        "  sr-native upscale photo.png -o photo_bicubic.png --scale 2 --method bicubic\n"
        "  sr-native upscale big.tif -o big_x2.tif --scale 2 --device cuda    # the CUDA build, on a GPU"))
    up.add_argument("inputs", nargs="+", help="image files, folders, or quoted glob patterns (** across folders)")
    up.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    up.add_argument("--scale", type=_float_in(above=0), default=None,
                    help="scale factor (default: the model's scale with --model, else 2; networks take 2, 3 "
                         "or 4, --method any factor > 0)")
    up.add_argument("--model", help=f"shipped model name ({models}) or weight file (ours or a foreign "
                                    "checkpoint) (default: the shipped model for the scale)")
    up.add_argument("--tile", type=_int_in(0), help="tile size in input pixels (default: automatic, bounded "
                                                    "memory; 0: whole image)")
    up.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/transposes (slower, +0.1 dB)")
    up.add_argument("--device", default=None, choices=["cpu", "cuda"],
                    help="where the network runs (default: cpu; cuda: the CUDA build and an NVIDIA GPU)")
    up.add_argument("--format", help="output extension for an output folder (png, jpg, webp, tif); "
                                     "default: the input's")
    up.add_argument("--quality", type=_int_in(1, 100), default=None,
                    help="JPEG and lossy WebP quality, 1-100 (default: 95)")
    up.add_argument("--lossless", action="store_true", help="lossless WebP output (not with --quality)")
    up.add_argument("--recursive", action="store_true",
                    help="take images in subfolders of folder inputs too (the tree is mirrored in the output)")
    up.add_argument("--overwrite", action="store_true",
                    help="redo images whose output exists (a folder job skips them, so it can be resumed), "
                         "and allow writing over an input")
    up.add_argument("--method", default=None, choices=["nearest", "bilinear", "bicubic", "lanczos3", "area"],
                    help="resize with this kernel instead of a network")
    up.add_argument("--outscale", type=_float_in(above=0), default=None,
                    help="output size factor, any number > 0: the network runs at its own scale, then its "
                         "output is resized (Lanczos-3) to this factor, as Real-ESRGAN's --outscale")
    _add_common(up)
    up.set_defaults(func=cmd_upscale, interrupted="run the same command again to continue (finished "
                                                  "images are skipped)")

    tr = sub.add_parser("train", help="train a network on a folder of HR images", formatter_class=_Help,
                        description=(
        "Train EDSR or WDSR with sr_native's own loop. LR patches are made on the fly with the "
        "MATLAB-compatible bicubic resize unless --lr-folder is given.\n\nexamples:\n"
        "  sr-native train ../shared/data/train --val ../shared/data/set5/HR --scale 2 --out runs/edsr-x2\n"
        "  sr-native train ../shared/data/train --out runs/edsr-x2 --resume   # continue where it stopped\n"
        "  sr-native train ../shared/data/train --model srresnet-nobn --scale 4 --out runs/srgan-x4 "
        "--init-from runs/srresnet-x4/model.safetensors --perceptual vgg19-dcbb9e9d.pth --gan ragan "
        "--pixel-weight 0.01   # SRGAN/ESRGAN's phase 2\n"
        "(../shared/data is the development data folder beside a checkout; give your own image folders)"))
    tr.add_argument("data", help="folder of HR images (searched recursively), or a DIV2K root")
    tr.add_argument("--out", required=True, help="run folder: checkpoint, model, log, curves (a new folder, "
                                                 "or an earlier run's with --resume)")
    tr.add_argument("--scale", type=int, default=2, choices=[2, 3, 4], help="scale factor")
    tr.add_argument("--model", default="edsr-baseline", choices=list(TRAIN_PRESETS),
                    help="architecture")
    tr.add_argument("--val", help="folder of HR validation images")
    tr.add_argument("--lr-folder", help="folder of given LR images (DIV2K naming: 0001x2.png)")
    tr.add_argument("--degradation", metavar="PRESET|FILE.json",
                    help="make each LR patch from its HR crop with the real-photo degradation model (blur, "
                         "resize, noise, JPEG, twice; sr_native.degradations): realesrgan (Real-ESRGAN's "
                         "settings), light (weaker, for x2), photo (light, a quarter of samples clean: "
                         "photo-x4's recipe), photo-mild (gentler blur, 40%% clean: photo-x2's) or a JSON file of "
                         "fields; recorded in the weights")
    tr.add_argument("--luma", action="store_true",
                    help="a 1-channel network trained on the luma (Y of MATLAB's BT.601 YCbCr); upscale runs "
                         "it on an image's Y and resizes the chroma bicubically (as SRCNN/FSRCNN/ESPCN did)")
    tr.add_argument("--init-from", help="weights whose matching tensors start the run (an x2 body for x3/x4)")
    tr.add_argument("--skip-init", default="default", choices=["default", "bicubic"],
                    help="WDSR: start the skip branch as bicubic interpolation and the tail at zero, so the "
                         "network starts at bicubic's output (useful when a new scale's tail is fresh)")
    tr.add_argument("--iterations", type=_int_in(1), default=300_000, help="training steps")
    tr.add_argument("--batch-size", type=_int_in(1), default=16, help="patches per step")
    tr.add_argument("--patch-size", type=_int_in(1), default=48, help="LR patch side in pixels")
    tr.add_argument("--patch-schedule", type=_patch_schedule, default=None, metavar="START:SIZE,...",
                    help="progressive patch sizes: each SIZE from iteration START on (--patch-size before "
                         "the first START), e.g. 0:24,20000:32,50000:48")
    tr.add_argument("--lr", type=_float_in(above=0), default=1e-4, help="Adam learning rate")
    tr.add_argument("--lr-schedule", default="step", choices=["step", "cosine"], help="learning-rate schedule")
    tr.add_argument("--lr-step", type=_int_in(1), default=200_000,
                    help="step schedule: multiply the rate by --lr-gamma every this many iterations")
    tr.add_argument("--lr-gamma", type=_float_in(above=0, hi=1), default=0.5, help="step schedule factor")
    tr.add_argument("--lr-min", type=_float_in(0), default=0.0, help="cosine schedule: the final rate")
    tr.add_argument("--loss", default="l1", choices=["l1", "mse"], help="pixel loss")
    tr.add_argument("--clip-grad", type=_float_in(0), default=0.0, help="global gradient norm limit (0: off)")
    tr.add_argument("--val-every", type=_int_in(1), default=1000, help="validate every this many iterations")
    tr.add_argument("--checkpoint-every", type=_int_in(1), default=1000,
                    help="write the checkpoint every this many iterations")
    tr.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0, help="random seed (patches, initial weights)")
    tr.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where the network trains (cuda: the CUDA build and an NVIDIA GPU)")
    ft = tr.add_argument_group("perceptual and adversarial fine-tuning (SRGAN/ESRGAN's phase 2; start it "
                               "--init-from the phase-1 weights)")
    ft.add_argument("--pixel-weight", type=_float_in(0), default=1.0,
                    help="weight of the pixel loss (--loss); ESRGAN uses 0.01 with --gan")
    ft.add_argument("--perceptual", metavar="VGG19.pth",
                    help="add a VGG19 feature loss; torchvision's ImageNet file vgg19-dcbb9e9d.pth, read "
                         "without PyTorch")
    ft.add_argument("--perceptual-layers", type=_layer_weights, default=None, metavar="LAYER:WEIGHT,...",
                    help="VGG19 layers (before their ReLU) and weights, e.g. conv5_4:1.0 (the default)")
    ft.add_argument("--perceptual-weight", type=_float_in(0), default=1.0, help="weight of the perceptual loss")
    ft.add_argument("--gan", choices=["vanilla", "ragan"],
                    help="add an adversarial loss: vanilla (SRGAN) or ragan (ESRGAN's relativistic average)")
    ft.add_argument("--gan-weight", type=_float_in(0), default=5e-3, help="weight of the generator's GAN loss")
    ft.add_argument("--discriminator", default="vgg", choices=["vgg", "unet"],
                    help="vgg: SRGAN's (HR patches multiples of 16 px); unet: Real-ESRGAN's with spectral norm "
                         "(multiples of 8)")
    ft.add_argument("--d-lr", type=_float_in(0), default=1e-4,
                    help="the discriminator's learning rate (on the generator's schedule)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    _add_common(tr)
    tr.set_defaults(func=cmd_train, interrupted="resume with --resume (from the last checkpoint)")

    ev = sub.add_parser("eval", help="PSNR/SSIM of a model and the resize baselines on a test set",
                        formatter_class=_Help, description=(
        "Evaluate with the published protocol: HR cropped to a multiple of the scale, the set's own "
        "MATLAB-made LR images when the folder has them (SelfExSR layout image_SRF_S/), else LR made "
        "with the package's MATLAB-compatible bicubic resize; outputs rounded to 8 bits; PSNR/SSIM "
        "on the BT.601 luma with S pixels shaved. Nearest, bicubic and lanczos3 baselines are listed "
        "beside the model.\n\nexamples:\n"
        "  sr-native eval --data ../shared/data/set5 --scale 2                       # baselines only\n"
        "  sr-native eval --model edsr-baseline-x2 --data ../shared/data/set5 --csv set5_x2.csv\n"
        "  sr-native eval --model runs/edsr-x2/model.safetensors --data my_hr_folder\n"
        "  sr-native eval --model edsr-baseline-x4 --data ../shared/data/set14 --degrade jpeg=40,noise=5\n"
        "(../shared/data is the development data folder beside a checkout; a fresh clone has none)"))
    ev.add_argument("--data", required=True, help="a set root (set5/), its image_SRF_S folder, or a folder of HR images")
    ev.add_argument("--scale", type=_float_in(above=0), default=None,
                    help="2, 3 or 4 (default: the model's scale with --model, else 2)")
    ev.add_argument("--model", help=f"shipped model name ({models}) or weight file (omit for the baselines only)")
    ev.add_argument("--lr-folder", help="LR images for a plain HR folder (same names, or NAMEx{S})")
    ev.add_argument("--make-lr", action="store_true", help="make LR with bicubic resize even where given")
    ev.add_argument("--self-ensemble", action="store_true", help="average the 8 flips/transposes (EDSR+)")
    ev.add_argument("--no-baselines", action="store_true", help="list only the model")
    ev.add_argument("--csv", help="write per-image PSNR/SSIM (and the means) to this CSV file")
    ev.add_argument("--degrade", metavar="SPEC",
                    help="degrade every LR image by these steps, in order, before scoring, e.g. jpeg=40,noise=5 "
                         "(noise=S: Gaussian sigma on 0-255; jpeg=Q: quality 1..100; blur=S: Gaussian sigma px)")
    ev.add_argument("--degrade-seed", type=_int_in(0, 2**63 - 1), default=0, help="seed of --degrade's noise")
    _add_common(ev)
    ev.set_defaults(func=cmd_eval, interrupted="nothing was written")

    be = sub.add_parser("bench", help="time a network on this machine", formatter_class=_Help, description=(
        "Time a network's forward pass on a synthetic image (after one warm-up run): median and min, "
        "GFLOP/s of its convolutions, megapixels per second. --compare times EDSR-baseline beside the "
        "peers installed here (PyTorch, needed to build their networks; onnxruntime; OpenVINO) on the same "
        "weights, after checking their outputs agree. The kernel comparisons with PyTorch, OpenCV and Pillow "
        "live in the repository's bench/ (python bench/run.py).\n\nexamples:\n"
        "  sr-native bench                                  # the shipped x2 model on 510x339\n"
        "  sr-native bench --model my.safetensors --size 1920x1080 --threads 2 --peak\n"
        "  sr-native bench --compare --threads 2            # EDSR-baseline x2 vs PyTorch, onnxruntime, OpenVINO"))
    be.add_argument("--model", help=f"shipped model name ({models}) or weight file "
                                    "(default: the shipped model for the scale)")
    be.add_argument("--scale", type=_float_in(above=0), default=None,
                    help="2, 3 or 4 (default: the model's scale with --model, else 2)")
    be.add_argument("--size", type=_size, default=(510, 339), help="input WxH (default: 510x339)")
    be.add_argument("--repeat", type=_int_in(1, 10_000), default=5, help="timed runs")
    be.add_argument("--peak", action="store_true", help="also measure the FMA peak and the share of it reached")
    be.add_argument("--compare", action="store_true",
                    help="time EDSR-baseline (--scale 2 or 4) beside PyTorch, onnxruntime and OpenVINO, "
                         "whichever are installed, on the same random weights")
    _add_common(be)
    be.set_defaults(func=cmd_bench, interrupted="")

    ins = sub.add_parser("inspect", help="a network's layers, parameters, FLOPs and receptive field",
                         formatter_class=_Help, description=(
        "Describe a network: architecture and arguments, parameter count, FLOPs per output pixel, "
        "receptive radius (what tiles overlap), every layer, and optionally a PNG of the first layer's "
        "filters.\n\nexamples:\n"
        "  sr-native inspect --model edsr-baseline-x2\n"
        "  sr-native inspect --model runs/fsrcnn-x2/model.safetensors --filters filters.png"))
    ins.add_argument("--model", help=f"shipped model name ({models}) or weight file (ours or a foreign "
                                     "checkpoint; default: the shipped model for --scale)")
    ins.add_argument("--scale", type=_float_in(above=0), default=None, help="2, 3 or 4 (without --model)")
    ins.add_argument("--filters", help="write the first convolution's filters to this PNG file")
    ins.add_argument("-q", "--quiet", action="store_true", help="the summary only, no layer table")
    ins.set_defaults(func=cmd_inspect, interrupted="")

    info = sub.add_parser("info", help="version, build options, CPU, code path, threads, CUDA, models",
                          formatter_class=_Help)
    info.add_argument("-q", "--quiet", action="store_true", help="accepted for symmetry (info prints only its table)")
    info.set_defaults(func=cmd_info, interrupted="")
    return parser


# Exceptions that mean the arguments or inputs are unusable: the library
# raises them while checking, before any work.
def _usage_exceptions():
    from PIL import Image, UnidentifiedImageError

    from .cuda import CudaUnavailableError

    return (UsageError, ValueError, TypeError, FileNotFoundError, NotADirectoryError, FileExistsError,
            IsADirectoryError, CudaUnavailableError, UnidentifiedImageError, Image.DecompressionBombError)


def _warning_printer(prog):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    return show


def main(argv=None):
    """Run one command; returns the exit status (see the module docstring),
    also for argparse's own exits (bad arguments 2, --help and --version 0)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    prog = f"sr-native {args.command}"
    try:
        with warnings.catch_warnings():
            # Warnings (files skipped in a training folder, fewer threads than
            # asked) are one line each, like the errors, whatever the filters.
            warnings.simplefilter("default")
            warnings.showwarning = _warning_printer(prog)
            return args.func(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted" + (f"; {args.interrupted}" if args.interrupted else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (| head): nothing more to say
        try:  # and nothing more to flush at exit, which would complain about the pipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except Exception as exc:
        if isinstance(exc, _usage_exceptions()):
            message = _one_line(exc)
            if message.startswith(f"{args.command}: "):  # the library names the function; we already did
                message = message[len(args.command) + 2:]
            print(f"{prog}: {message}", file=sys.stderr)
            return 2
        print(f"{prog}: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
