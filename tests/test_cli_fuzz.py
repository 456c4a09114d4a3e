"""The command line under random arguments (hypothesis): every run ends quickly
with exit status 0, 1 or 2, and whatever it writes to stderr is one line per
problem starting `sr-native`, never a traceback. main(argv) runs in-process
(fast); a few runs of `python -m sr_native` show the real entry point agrees,
including a real Ctrl-C.

Networks stay tiny: a random-weight EDSR with 4 features, 16x16 images.
Values that would make honest work huge (a --scale of 10,000 asks for a
160,000-pixel-wide image) are not drawn: that is the memory check's business
(test_upscale.py), not the command line's.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import sr_native
from conftest import subprocess_env
from sr_native.cli import build_parser, main

# hypothesis' pytest plugin imports a deprecated mypy_extensions name while it reports a
# failing example; with filterwarnings=error that hid the example behind an INTERNALERROR.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

# ------------------------------------------------------------- what the parser offers
_PARSER = build_parser()
_SUBPARSERS = next(a for a in _PARSER._actions if a.__class__.__name__ == "_SubParsersAction").choices
# command -> [(option string, takes a value)], without --help (tested in test_cli_usage.py)
OPTIONS = {
    name: [(s, a.nargs != 0) for a in sub._actions for s in a.option_strings if s not in ("-h", "--help")]
    for name, sub in _SUBPARSERS.items()
}

SCALES = ["", "-1", "0", "0.5", "1", "1.5", "2", "3", "4", "nan", "inf", "-inf", "1e309", "x"]
COUNTS = ["", "-1", "0", "1", "2", "3", "16", "99999999999", "1e3", "2.5", "x"]
FLOATS = ["", "-1", "0", "1e-4", "0.5", "1", "1e39", "nan", "inf", "x"]
SIZES = ["", "0x0", "2x2", "8x8", "3x", "-1x4", "8x8x8", "x", "ü"]
WORDS = ["", " ", "--", "-", "ü", "名前", "png", "jpg", "webp", "xyz", ".png", "bicubic", "nearest", "cpu", "cuda",
         "edsr-baseline-x2", "wdsr-b-x3", "edsr", "wdsr-b", "step", "cosine", "l1", "default"]
# Placeholders, filled in with each example's own files
INPUTS = ["{img}", "{gray}", "{la}", "{anim}", "{folder}", "{glob}", "{folder}/*.png"]
OUTPUTS = ["{out_png}", "{out_dir}", "{out_jpg}", "{out_dir}/x.webp", "{out_dir}/x.tif", "{out_dir}/x.gif"]
PATHS = INPUTS + OUTPUTS + ["{empty}", "{fifo}", "{notimage}", "{missing}", "{model}", "{run}", "{csv}"]
BAD = {"--scale": SCALES, "--size": SIZES, "--lr": FLOATS, "--lr-gamma": FLOATS, "--lr-min": FLOATS,
       "--clip-grad": FLOATS}
for _name in ("--repeat", "--iterations", "--batch-size", "--patch-size", "--tile", "--threads", "--quality",
              "--lr-step", "--val-every", "--checkpoint-every", "--seed"):
    BAD[_name] = COUNTS
# Values that make sense, so that runs get past the checks and do work.
GOOD = {"--scale": ["2", "2", "3", "1.5"], "--size": ["8x8", "5x7"], "--tile": ["0", "16", "24"],
        "--threads": ["1", "2"], "--quality": ["40", "95"], "--repeat": ["1", "2"], "--iterations": ["1", "2"],
        "--batch-size": ["1", "2"], "--patch-size": ["4"], "--lr-step": ["1", "100"], "--val-every": ["1"],
        "--checkpoint-every": ["1"], "--seed": ["0", "7"], "--lr": ["1e-4", "1e-3"], "--lr-gamma": ["0.5"],
        "--lr-min": ["0", "1e-6"], "--clip-grad": ["0", "1"], "--model": ["{model}", "{model}", "edsr-baseline-x2"],
        "--format": ["png", "jpg", "webp", "tif", "gif"], "-o": OUTPUTS, "--output": OUTPUTS,
        "--val": ["{folder}"], "--lr-folder": ["{folder}"], "--init-from": ["{model}"], "--csv": ["{csv}"],
        "--data": ["{folder}"], "--out": ["{run}"]}
# Free text without digits: a random number could ask for honest, huge work (see the docstring).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs"), blacklist_characters="\x00"),
               max_size=6)


def value_for(command, option):
    action = next(a for a in _SUBPARSERS[command]._actions if option in a.option_strings)
    good = [str(c) for c in action.choices] if action.choices else GOOD.get(option, PATHS)
    if command == "train" and option == "--model":
        good = [str(c) for c in action.choices]
    bad = st.one_of(st.sampled_from(BAD.get(option, PATHS + WORDS)), st.sampled_from(PATHS + WORDS), TEXT)
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), bad)


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["upscale"] * 8 + ["train", "eval", "bench"] * 2 + ["info", "", "nonsense",
                                                                                      "--version", "-q"]))
    argv = [command]
    if command not in OPTIONS:
        return argv
    if command == "upscale":
        argv += draw(st.lists(st.one_of(st.sampled_from(INPUTS), st.sampled_from(INPUTS),
                                        st.sampled_from(PATHS + WORDS)), min_size=int(draw(st.integers(0, 9)) > 0),
                                max_size=3))
        if draw(st.integers(0, 9)) < 9:
            argv += ["-o", draw(st.sampled_from(OUTPUTS + ["{img}", "{folder}", "{fifo}", "-"]))]
        if draw(st.booleans()):  # most runs: a tiny network or a plain resize
            argv += draw(st.sampled_from([["--model", "{model}"], ["--method", "bicubic"], ["--method", "area"]]))
    elif command == "train":
        argv += [draw(st.sampled_from(["{folder}"] * 3 + PATHS + WORDS)), "--out",
                 draw(st.sampled_from(["{run}"] * 3 + ["{img}", "{folder}"]))]
    elif command == "eval":
        if draw(st.integers(0, 9)) < 9:
            argv += ["--data", draw(st.sampled_from(["{folder}"] * 3 + PATHS + WORDS))]
    elif command == "bench":
        argv += ["--size", "8x8", "--model", "{model}"] if draw(st.booleans()) else ["--size", "8x8"]
    for _ in range(draw(st.integers(0, 4))):
        option, takes_value = draw(st.sampled_from(OPTIONS[command]))
        argv.append(option)
        if takes_value and draw(st.integers(0, 19)):  # now and then the value is missing
            argv.append(draw(value_for(command, option)))
    # Bounds on the work (the last occurrence wins; the drawn values are still parsed and checked).
    if command == "train":
        argv += ["--iterations", "2", "--batch-size", "1", "--patch-size", "4", "--val-every", "1",
                 "--checkpoint-every", "1"]
    elif command == "bench":
        argv += ["--repeat", "1"]
    return argv


def make_files(root, model_file):
    """Each example's inputs, fresh (an example may overwrite or move them)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    files = {"root": root}
    files["img"] = root / "img.png"
    Image.fromarray(rgb).save(files["img"])
    files["gray"] = root / "gray.jpg"
    Image.fromarray(rgb[..., 0]).save(files["gray"])
    files["la"] = root / "la.png"
    Image.fromarray(rgb[..., :2]).save(files["la"])
    files["anim"] = root / "anim.gif"
    frames = [Image.fromarray(rgb), Image.fromarray(rgb[::-1])]
    frames[0].save(files["anim"], save_all=True, append_images=frames[1:], duration=[50, 60], loop=0)
    files["folder"] = root / "folder"
    files["folder"].mkdir()
    for i in range(2):
        Image.fromarray(np.roll(rgb, i, axis=0)).save(files["folder"] / f"{i}.png")
    files["empty"] = root / "empty"
    files["empty"].mkdir()
    files["fifo"] = root / "fifo.png"
    os.mkfifo(files["fifo"])
    files["notimage"] = root / "notes.png"
    files["notimage"].write_text("not an image")
    files["missing"] = root / "missing.png"
    files["model"] = root / "tiny.safetensors"
    shutil.copyfile(model_file, files["model"])
    files["out_png"] = root / "out.png"
    files["out_dir"] = root / "outdir"
    files["out_jpg"] = root / "out.jpg"
    files["run"] = root / "run"
    files["glob"] = str(root / "**" / "*.png")
    files["csv"] = root / "result.csv"
    return files


def fill(arg, files):
    for key, value in files.items():
        arg = arg.replace("{" + key + "}", str(value))
    return arg


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from sr_native.models import EDSR

    net = EDSR(2, n_feats=4, n_resblocks=1)
    rng = np.random.default_rng(3)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    path = tmp_path_factory.mktemp("fuzz_model") / "tiny.safetensors"
    net.save(path)
    return path


class Hung(BaseException):
    """Raised by the alarm: a BaseException, so main's own handlers let it through."""


def _alarm(signum, frame):
    raise Hung("no answer within the time limit")


def check_run(argv, capsys, limit_s=60):
    threads = sr_native.get_num_threads()
    t0 = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)  # a blocking open() on a FIFO ends too
    signal.alarm(limit_s)
    try:
        code = main(argv)
    except BaseException as exc:  # nothing may escape main, not even SystemExit
        pytest.fail(f"main({argv!r}) raised {type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sr_native.set_num_threads(threads)
    elapsed = time.perf_counter() - t0
    _, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    for line in err.splitlines():
        if line.strip():  # one line per problem, each naming the command
            assert line.startswith("sr-native"), (argv, err)
    if code:
        assert err.strip(), (argv, code)
    assert elapsed < limit_s, (argv, elapsed)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=command_lines())
def test_random_command_lines(argv, capsys, model_file):
    root = Path(tempfile.mkdtemp(prefix="sr-native-fuzz-"))
    cwd = os.getcwd()
    try:
        files = make_files(root, model_file)
        argv = [fill(a, files) for a in argv]
        os.chdir(root)  # relative names the fuzz makes up land here
        check_run(argv, capsys)
    finally:
        os.chdir(cwd)
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------- the real entry point
def cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "sr_native"] + [str(a) for a in args], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("case", ["fifo", "missing", "scale_nan", "conflict", "bad_model", "ok"])
def test_entry_point_exit_status_and_one_line(tmp_path, case, model_file):
    files = make_files(tmp_path, model_file)
    args, want = {
        "fifo": (["upscale", files["fifo"], "-o", files["out_png"]], 2),
        "missing": (["train", files["missing"], "--out", files["run"]], 2),
        "scale_nan": (["bench", "--scale", "nan"], 2),
        "conflict": (["upscale", files["img"], "-o", files["out_png"], "--method", "bicubic", "--tile", "64"], 2),
        "bad_model": (["upscale", files["img"], "-o", files["out_png"], "--model", files["notimage"]], 2),
        "ok": (["upscale", files["img"], "-o", files["out_png"], "--model", files["model"], "-q"], 0),
    }[case]
    r = cli(args)
    assert r.returncode == want, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == (1 if want else 0), r.stderr


def test_ctrl_c_during_training_is_exit_130(tmp_path, model_file):
    files = make_files(tmp_path, model_file)
    proc = subprocess.Popen([sys.executable, "-m", "sr_native", "train", str(files["folder"]), "--out",
                             str(files["run"]), "--iterations", "100000000", "--batch-size", "1", "--patch-size",
                             "4", "--checkpoint-every", "5", "--model", "wdsr-b", "-q"],
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (files["run"] / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sr-native train: interrupted; resume with --resume"), err
