import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from shared import (UserError, atomic_path, atomic_write, autocast, check_output_path,
                    native_bf16, resolve_precision, seed_everything, select_device)
from shared.cli import flag_names, sys_exit


def test_atomic_write_replaces_only_on_success(tmp_path):
    out = tmp_path / "result.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(out, "w") as fh:
            fh.write("half")
            raise RuntimeError("disk on fire")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]
    with atomic_write(out, "w") as fh:
        fh.write("new")
    assert out.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_atomic_path_leaves_no_file_when_writing_fails(tmp_path):
    out = tmp_path / "x.wav"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(out) as tmp:
            assert tmp.parent == tmp_path and tmp.suffix == ".wav"
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_path(out) as tmp:
        tmp.write_bytes(b"data")
    assert out.read_bytes() == b"data" and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_survives_killed_process(tmp_path):
    out = tmp_path / "big.bin"
    out.write_bytes(b"original")
    code = (
        "import os, sys\n"
        "from shared import atomic_write\n"
        f"with atomic_write({str(out)!r}) as fh:\n"
        "    fh.write(b'x' * 1000)\n"
        "    fh.flush()\n"
        "    os._exit(9)\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert out.read_bytes() == b"original"


def test_check_output_path(tmp_path):
    inp = tmp_path / "in.wav"
    inp.write_bytes(b"x")
    assert check_output_path(tmp_path / "out.wav", [inp]) == tmp_path / "out.wav"
    with pytest.raises(ValueError, match="one of the inputs"):
        check_output_path(inp, [inp])
    with pytest.raises(ValueError, match="one of the inputs"):
        check_output_path(tmp_path / "." / "in.wav", [str(inp)])
    link = tmp_path / "link.wav"
    os.symlink(inp, link)
    with pytest.raises(ValueError, match="one of the inputs"):
        check_output_path(link, [inp])
    with pytest.raises(ValueError, match="folder does not exist"):
        check_output_path(tmp_path / "nope" / "out.wav")
    with pytest.raises(ValueError, match="is a folder"):
        check_output_path(tmp_path)


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    auto = select_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            select_device("cuda")
        with pytest.raises(ValueError, match="no CUDA"):
            select_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_select_device_cuda():
    assert select_device("cuda").type == "cuda"
    with pytest.raises(ValueError, match="does not exist"):
        select_device(f"cuda:{torch.cuda.device_count()}")


def test_seed_everything_reproducible():
    g = seed_everything(7)
    a = torch.randn(5), torch.randn(3, generator=g)
    g = seed_everything(7)
    b = torch.randn(5), torch.randn(3, generator=g)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_seed_everything_seeds_python_and_numpy_too():
    def draws() -> tuple:
        return random.random(), random.randrange(10**9), float(np.random.rand()), \
            int(np.random.randint(10**9)), float(torch.rand(()))

    seed_everything(123)
    first = draws()
    random.seed(999)  # disturb every generator in between
    np.random.seed(999)
    torch.manual_seed(999)
    seed_everything(123)
    assert draws() == first
    seed_everything(124)
    other = draws()
    assert all(x != y for x, y in zip(other, first))  # each generator follows the seed
    seed_everything(2**32 + 123)  # seeds beyond NumPy's 32-bit range are accepted


def test_sys_exit_maps_errors(capsys):
    @sys_exit("tool", {"lr": "--lr", "image_size": "--image-size"})
    def main(argv=None):
        kind = argv[0]
        if kind == "user":
            raise UserError("bad file\nsecond line")
        if kind == "value":
            raise ValueError("lr must be positive, got 0; image_size 3 is too small")
        if kind == "missing":
            raise FileNotFoundError("image_size.png: no such file")
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "bug":
            raise RuntimeError("boom")
        return 0

    assert main(["ok"]) == 0
    assert main(["user"]) == 2
    err = capsys.readouterr().err
    assert err == "tool: error: bad file second line\n"
    assert main(["value"]) == 2  # the library's errors name parameters; the tool, its flags
    err = capsys.readouterr().err
    assert err == "tool: error: --lr must be positive, got 0; --image-size 3 is too small\n"
    assert main(["missing"]) == 2
    assert capsys.readouterr().err == "tool: error: image_size.png: no such file\n"
    assert main(["interrupt"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert main(["bug"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: boom" in err


def test_atomic_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.txt", "w") as fh:
            fh.write("x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
        old = tmp_path / "old.txt"
        old.write_text("y")
        old.chmod(0o640)
        with atomic_write(old, "w") as fh:
            fh.write("z")
        assert old.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_flag_names_rewrites_whole_parameter_names_only():
    flags = {"lr": "--lr", "size": "--size", "style_layers": "--style-layers", "init": "--init"}
    assert flag_names("lr must be positive, got 0", flags) == "--lr must be positive, got 0"
    assert (flag_names("give init PATH (or style_layers)", flags)
            == "give --init PATH (or --style-layers)")
    # not inside words, paths, file names, quoted values or flags
    for text in ("slr sizes initial", "/tmp/size/x.png: no such file", "size.png: empty file",
                 "unknown mode 'size'", "--size 3", "init_scale"):
        assert flag_names(text, flags) == text
    assert flag_names("lower lr.", flags) == "lower --lr."


def test_autocast_is_bf16_on_cuda_only():
    with autocast(torch.device("cpu"), "bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        autocast(torch.device("cpu"), "fp16")
    if torch.cuda.is_available():
        a = torch.ones(2, 2, device="cuda")
        with autocast(a.device, "bf16"):
            assert (a @ a).dtype == torch.bfloat16
        with autocast(a.device, "fp32"):
            assert (a @ a).dtype == torch.float32


def test_precision_auto_is_bf16_where_it_is_native(monkeypatch):
    cpu = torch.device("cpu")
    assert native_bf16(torch.device("cuda"))  # a GPU: autocast's bf16
    for flag, native in ((True, True), (False, False)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: flag)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        assert native_bf16(cpu) is native
        assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="precision must be auto, fp32 or bf16"):
        resolve_precision("fp16", cpu)
