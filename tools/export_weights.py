"""Write the weights of a training run's checkpoint as a package weight file.

    python tools/export_weights.py RUN_DIR weights/edsr-baseline-x2.safetensors

Used to ship the weights of a run that is still going (a checkpoint is
written every --checkpoint-every iterations): the file records the
iteration, the run's configuration and its validation PSNR history in its
provenance, so what was shipped can always be traced to how far it trained.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from sr_native.training.loop import load_checkpoint  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--command", default="", help="the command that reproduces the run (recorded)")
    args = parser.parse_args(argv)
    model, _, _, iteration, cfg, history = load_checkpoint(Path(args.run_dir) / "checkpoint.safetensors")
    val = [(h["iteration"], round(h["val_psnr"], 3)) for h in history if h.get("val_psnr") is not None]
    model.provenance = {
        "trained_by": "sr_native.train", "data": cfg["train_dir"], "iterations": iteration,
        "planned_iterations": cfg["iterations"], "exported": time.strftime("%Y-%m-%d"),
        "config": cfg, "val_psnr_history": val, "command": args.command,
        "degradation": cfg.get("degradation") or "bicubic",  # as sr_native.train records it
    }
    model.save(args.out)
    os.chmod(args.out, 0o644)  # safetensors writes 0600; the package file is read by everyone
    print(f"{args.out}: {model.info().architecture} x{model.info().scale} at iteration {iteration}"
          f" of {cfg['iterations']}" + (f", last validation PSNR {val[-1][1]} dB" if val else ""))


if __name__ == "__main__":
    main()
