"""The sr-native command line: upscale files and folders, info."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import sr_native
from conftest import subprocess_env
from sr_native.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut_256.png"


def read(path):
    with Image.open(path) as im:
        return np.asarray(im)


def test_upscale_one_file_matches_resize(tmp_path):
    src = tmp_path / "in.png"
    img = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    Image.fromarray(img).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--scale", "2", "-q"]) == 0
    out = read(tmp_path / "out.png")
    np.testing.assert_array_equal(out, sr_native.resize(img, 2))


def test_upscale_folder_keeps_names_and_reports_bad_files(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(folder / "gray.png")
    Image.fromarray(np.zeros((8, 9, 4), np.uint8)).save(folder / "rgba.png")
    (folder / "broken.png").write_bytes(b"not a png")
    code = main(["upscale", str(folder), "-o", str(tmp_path / "out"), "--scale", "3"])
    assert code == 1  # one file failed, the others were written
    assert "broken.png" in capsys.readouterr().err
    assert read(tmp_path / "out" / "gray.png").shape == (24, 27)
    assert read(tmp_path / "out" / "rgba.png").shape == (24, 27, 4)


def test_readme_example_and_info_run_as_commands(tmp_path):
    out = tmp_path / "astronaut_x2.png"
    env = subprocess_env()
    subprocess.run([sys.executable, "-m", "sr_native", "upscale", str(EXAMPLE), "-o", str(out),
                    "--scale", "2"], check=True, env=env, capture_output=True)
    assert read(out).shape == (512, 512, 3)
    info = subprocess.run([sys.executable, "-m", "sr_native", "info"], check=True, env=env,
                          capture_output=True, text=True).stdout
    assert "isa_active" in info and sr_native.get_isa() in info


def test_train_command_runs_and_resumes(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["train", str(folder), "--out", str(tmp_path / "run"), "--iterations", "4", "--batch-size", "2",
            "--patch-size", "8", "--checkpoint-every", "2", "--val", str(folder), "--val-every", "2", "-q"]
    assert main(args + ["--model", "wdsr-b"]) == 0
    assert main(args[:5] + ["6"] + args[6:] + ["--model", "wdsr-b", "--resume"]) == 0
    lines = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert lines[-1].startswith("6,")
    assert sr_native.load_model(tmp_path / "run" / "model.safetensors").architecture == "wdsr"
