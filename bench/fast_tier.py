"""The fast tier against OpenCV's dnn_superres: ESPCN and FSRCNN, same
network, same image, same thread count, in one process.

    python bench/fast_tier.py [--sizes 510x339,1920x1080] [--scales 2] [--threads 2] [--repeat 5]

OpenCV's dnn_superres reads the TensorFlow `.pb` files of its ESPCN and
FSRCNN models (Y-channel networks). Those files are not reachable from these
machines, so the peer runs a network of exactly their published layout
(ESPCN: 5x5 64 tanh, 3x3 32 tanh, 3x3 to scale^2, depth-to-space; FSRCNN:
d=56, s=12, m=4 with PReLU and a 9x9 transposed convolution, stride =
scale), built in PyTorch with random weights, exported to ONNX and read by
cv2.dnn.readNetFromONNX, through dnn_superres's own pipeline: BGR -> YCrCb,
the network on Y, bicubic resize for Cr and Cb, back to BGR. Speed depends
on the layout, not the weight values.

sr_native runs (a) the very same Y-channel network and weights through
sr_native.upscale (luma models run on Y, chroma bicubic) and (b) the shipped
model (espcn-x2, fsrcnn-x2, ...: luma networks of the same layout, trained
here) where it ships, as a user would. Outputs of (a) are checked against
OpenCV's on the same luma plane before timing. OpenCV runs in a child
process: its dnn crashes (segfault) on the FSRCNN layout at 1920x1080 here,
which the table then reports. Needs PyTorch,
onnx and OpenCV 4.x (pip install ".[bench]"; OpenCV 5 reads ONNX too).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Timing, optional  # noqa: E402

import sr_native  # noqa: E402
from sr_native.models import ESPCN, FSRCNN  # noqa: E402


def opencv_layout(torch, kind, scale):
    """The torch network of OpenCV's model file layout (Y channel), random weights."""
    nn = torch.nn
    torch.manual_seed(0)
    if kind == "espcn":
        net = nn.Sequential(nn.Conv2d(1, 64, 5, padding=2), nn.Tanh(), nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(),
                            nn.Conv2d(32, scale * scale, 3, padding=1), nn.PixelShuffle(scale))
    else:
        layers = [nn.Conv2d(1, 56, 5, padding=2), nn.PReLU(56), nn.Conv2d(56, 12, 1), nn.PReLU(12)]
        for _ in range(4):
            layers += [nn.Conv2d(12, 12, 3, padding=1), nn.PReLU(12)]
        layers += [nn.Conv2d(12, 56, 1), nn.PReLU(56),
                   nn.ConvTranspose2d(56, 1, 9, stride=scale, padding=4, output_padding=scale - 1)]
        net = nn.Sequential(*layers)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(0.5)
    return net.eval()


def ours_from_torch(kind, scale, tnet):
    """The same Y-channel network as an sr_native model (our key names)."""
    sd = {k: v.detach().numpy() for k, v in tnet.state_dict().items()}
    if kind == "espcn":
        net = ESPCN(scale, n_colors=1)
        mapping = {"conv1": "0", "conv2": "2", "conv3": "4"}
    else:
        net = FSRCNN(scale, n_colors=1)
        mapping = {"feature": "0", "feature_act": "1", "shrink": "2", "shrink_act": "3", "expand": "12",
                   "expand_act": "13", "deconv": "14"}
        for i in range(4):
            mapping[f"mapping.{i}"], mapping[f"mapping_act.{i}"] = str(4 + 2 * i), str(5 + 2 * i)
    net.load_state_dict({k: sd[f"{mapping[k.rsplit('.', 1)[0]]}.{k.rsplit('.', 1)[1]}"] for k in net.state_dict()})
    return net


def opencv_upsample(cv2, net, bgr, scale):
    """dnn_superres's pipeline: the network on Y of YCrCb, bicubic Cr/Cb."""
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
    net.setInput(ycc[..., 0].astype(np.float32)[None, None] / 255.0)
    y = net.forward()[0, 0]
    up = cv2.resize(ycc, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    up[..., 0] = np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(up, cv2.COLOR_YCrCb2BGR)


def opencv_seconds(onnx_path, bgr, scale, repeat, threads):
    """OpenCV's median time in a child process (None if the child dies: OpenCV
    4.14's dnn segfaults running the FSRCNN layout at 1920x1080 here)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    result = ctx.Queue()

    def child():
        import cv2

        cv2.setNumThreads(threads)
        net = cv2.dnn.readNetFromONNX(onnx_path)
        result.put(Timing.of("opencv", lambda: opencv_upsample(cv2, net, bgr, scale), repeat=repeat).median)

    proc = ctx.Process(target=child)
    proc.start()
    proc.join()
    return result.get() if proc.exitcode == 0 else None


def test_image(width, height):
    """A natural photo (scikit-image's astronaut, tiled and cropped to the size), uint8 RGB."""
    from skimage import data

    img = data.astronaut()
    reps = (-(-height // img.shape[0]), -(-width // img.shape[1]), 1)
    return np.ascontiguousarray(np.tile(img, reps)[:height, :width])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="510x339,1920x1080")
    parser.add_argument("--scales", default="2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    torch, cv2 = optional("torch"), optional("cv2")
    if torch is None or cv2 is None or optional("onnx") is None:
        print("fast_tier bench: needs PyTorch, onnx and OpenCV (pip install '.[bench]' and torch); skipped")
        return
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    sr_native.set_num_threads(args.threads)
    info = sr_native.build_info()
    from sr_native.cli import _cpu_name

    print(f"{_cpu_name()}, {args.threads} threads | sr_native {info['version']} isa={info['isa_active']} | "
          f"OpenCV {cv2.__version__}")
    shipped = set(sr_native.shipped_models())
    print(f"  {'model':<10}{'size':>11}  {'OpenCV dnn (Y)':>15}{'ours, same net':>16}{'ours, shipped':>19}"
          f"{'OpenCV/ours':>13}  MP/s ours")
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("espcn", "fsrcnn"):
            for scale in map(int, args.scales.split(",")):
                tnet = opencv_layout(torch, kind, scale)
                onnx_path = os.path.join(workdir, f"{kind}{scale}.onnx")
                torch.onnx.export(tnet, torch.zeros(1, 1, 32, 32), onnx_path, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": {2: "h", 3: "w"}}, dynamo=False)
                cvnet = cv2.dnn.readNetFromONNX(onnx_path)
                ours = ours_from_torch(kind, scale, tnet)
                name = f"{kind}-x{scale}"
                rgb_model = sr_native.load_model(name) if name in shipped else None
                for size in args.sizes.split(","):
                    w, h = map(int, size.split("x"))
                    rgb = test_image(w, h)
                    bgr = np.ascontiguousarray(rgb[..., ::-1])
                    # The same network: on the same luma plane the outputs agree to float32 rounding
                    # (checked on the small size: OpenCV's dnn crashes on some large inputs).
                    luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[None, None, :400, :400, 0].astype(np.float32) / 255
                    cvnet.setInput(luma)
                    diff = np.abs(cvnet.forward() - ours(np.ascontiguousarray(luma)))
                    t_cv = opencv_seconds(onnx_path, bgr, scale, args.repeat, args.threads)
                    t_ours = Timing.of("ours", lambda: sr_native.upscale(rgb, scale, model=ours), repeat=args.repeat)
                    t_rgb = (Timing.of("rgb", lambda: sr_native.upscale(rgb, scale, model=rgb_model),
                                       repeat=args.repeat) if rgb_model is not None else None)
                    rgb_text = f"{t_rgb.median:>17.3f} s" if t_rgb else f"{'(not shipped)':>19}"
                    cv_text = f"{t_cv:>13.3f} s" if t_cv else f"{'(crashed)':>15}"
                    ratio = f"{t_cv / t_ours.median:>12.2f}x" if t_cv else f"{'-':>13}"
                    print(f"  {name:<10}{size:>11}  {cv_text}{t_ours.median:>14.3f} s{rgb_text}"
                          f"{ratio}  {w * h / 1e6 / t_ours.median:>8.1f}"
                          f"   (same input: max |diff| {diff.max():.1e})")


if __name__ == "__main__":
    main()
