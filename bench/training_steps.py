"""One training step of every forward-defined network, sr_native's tape
against PyTorch on the same network, weights and batch, in one process.

    python bench/training_steps.py [--batch 16] [--patch 32] [--scale 2] [--threads 2] [--repeat 5]
                                   [--models srcnn,fsrcnn,espcn,vdsr,srresnet,...]

A step is forward, L1 loss, backward and an Adam update (sr_native: its
training loop's training_step; PyTorch: torch.optim.Adam). The torch network
is tests/torch_twins.py's twin of ours (same state dict), checked to give the
same loss before timing. SRCNN and VDSR take the bicubic-upsampled batch in
torch (it has no MATLAB bicubic); ours upsamples inside the step, so ours
does a little more work there.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # torch_twins
from common import Timing, optional  # noqa: E402

import sr_native  # noqa: E402
from sr_native import autograd  # noqa: E402
from sr_native.models import build  # noqa: E402
from sr_native.training import loop  # noqa: E402

MODELS = ["srcnn", "fsrcnn", "fsrcnn-s", "espcn", "vdsr", "srresnet", "srresnet-nobn", "btsrn", "rcan-small", "pan"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=32, help="LR patch side")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    torch = optional("torch")
    if torch is None:
        print("training_steps bench: PyTorch is not installed; skipped")
        return
    from torch_twins import twin

    from sr_native.cli import _cpu_name

    torch.set_num_threads(args.threads)
    sr_native.set_num_threads(args.threads)
    print(f"{_cpu_name()}, {args.threads} threads | sr_native {sr_native.build_info()['isa_active']} | "
          f"torch {torch.__version__} | batch {args.batch} x {args.patch}x{args.patch} LR, x{args.scale}")
    print(f"  {'model':<14}{'parameters':>11}{'sr_native ms':>14}{'PyTorch ms':>12}{'ours faster by':>16}")
    rng = np.random.default_rng(0)
    lr_batch = rng.random((args.batch, 3, args.patch, args.patch), dtype=np.float32)
    hr_batch = rng.random((args.batch, 3, args.patch * args.scale, args.patch * args.scale), dtype=np.float32)
    cfg = loop.TrainConfig(train_dir="unused", scale=args.scale)
    for name in filter(None, args.models.split(",")):
        arch, preset = loop.PRESETS[name]
        net = build(arch, args.scale, **preset)
        loop.init_like_pytorch(net, np.random.default_rng(1))
        theirs = twin(net, torch).train()
        adam = loop.Adam(net.trainable())
        opt = torch.optim.Adam(theirs.parameters(), lr=1e-4)
        gain, mean = net._gain_and_mean()
        t_in = autograd.upsample_bicubic(lr_batch, args.scale) if arch in ("srcnn", "vdsr") else lr_batch
        t_in = torch.from_numpy((t_in - mean[:, None, None]) * gain)
        t_hr = torch.from_numpy((hr_batch - mean[:, None, None]) * gain)

        def torch_step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.l1_loss(theirs(t_in), t_hr) / gain
            loss.backward()
            opt.step()
            return loss.item()

        ours_loss = loop.training_step(net, adam, lr_batch, hr_batch, cfg, 1e-4)
        theirs_loss = torch_step()
        if abs(ours_loss - theirs_loss) > 1e-3 * abs(theirs_loss):
            print(f"  {name}: losses differ (ours {ours_loss:.6f}, torch {theirs_loss:.6f}); not timed")
            continue
        t_ours = Timing.of("ours", lambda: loop.training_step(net, adam, lr_batch, hr_batch, cfg, 1e-4),
                           repeat=args.repeat, warmup=1)
        t_torch = Timing.of("torch", torch_step, repeat=args.repeat, warmup=1)
        print(f"  {name:<14}{net.num_parameters():>11,}{t_ours.median * 1e3:>14.1f}{t_torch.median * 1e3:>12.1f}"
              f"{t_torch.median / t_ours.median:>15.2f}x")


if __name__ == "__main__":
    main()
