"""The LaFAN1 walking take, fetched at test time: download, check and cache (never committed).

Source (``shared/reference/real-walking-data.md`` §1): the LaFAN1 take ``testBvhFiles/test.bvh`` inside the
``bvhtools==1.6.0`` sdist, 7184 frames at 30 fps. **Licence**: the package is MIT but the motion is Ubisoft
La Forge's LaFAN1, CC BY-NC-ND 4.0: :func:`fetch_lafan1_bvh` downloads it into a user cache
(``$GAITPREP_CACHE`` or ``~/.cache/gaitprep``), checks its sha256 and size, and never writes it anywhere
else. :mod:`gaitprep.synth.realwalk` turns it into COCO-17 walking sequences.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from gaitprep.errors import GaitprepError

LAFAN1_SHA256 = "53c90d858221d02a623776b6bca9d4cfed17ea832fc7bd641b35549055af912c"
LAFAN1_SIZE = 5_048_314
BVHTOOLS_REQUIREMENT = "bvhtools==1.6.0"
BVHTOOLS_MEMBER = "bvhtools-1.6.0/testBvhFiles/test.bvh"
CACHE_ENV = "GAITPREP_CACHE"
DOWNLOAD_TIMEOUT_S = 300
_MAX_TARBALL_BYTES = 64 * 1024 * 1024
_MAX_BVH_BYTES = 32 * 1024 * 1024


class RealWalkingUnavailable(GaitprepError):  # noqa: N818 - the name says what the caller skips on
    """The LaFAN1 take could not be fetched or checked; ``reason`` says why (tests skip with it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def default_cache_dir() -> Path:
    """``$GAITPREP_CACHE`` when set, else ``~/.cache/gaitprep``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "gaitprep"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_matches(path: Path) -> bool:
    try:
        if not path.is_file() or path.stat().st_size != LAFAN1_SIZE:
            return False
        return _sha256(path.read_bytes()) == LAFAN1_SHA256
    except OSError:
        return False


def pip_download_command(dest: Path) -> list[str]:
    """The command that downloads the bvhtools sdist (no dependencies, no wheel) into ``dest``."""
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", "--retries", "2", "--timeout", "30",
        BVHTOOLS_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip


def _download_sdist(dest: Path) -> Path:
    """Run pip into ``dest``; return the tarball's path or raise :class:`RealWalkingUnavailable`."""
    try:
        proc = subprocess.run(
            pip_download_command(dest),
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise RealWalkingUnavailable(
            f"downloading {BVHTOOLS_REQUIREMENT} took more than {DOWNLOAD_TIMEOUT_S} s"
        ) from None
    except OSError as exc:
        raise RealWalkingUnavailable(f"cannot run pip to download {BVHTOOLS_REQUIREMENT}: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        last = lines[-1][:200] if lines else f"exit status {proc.returncode}"
        raise RealWalkingUnavailable(f"pip could not download {BVHTOOLS_REQUIREMENT}: {last}")
    tarballs = sorted(dest.glob("bvhtools-1.6.0.tar.gz"))
    if not tarballs:
        raise RealWalkingUnavailable(f"pip download of {BVHTOOLS_REQUIREMENT} wrote no sdist tarball")
    return tarballs[0]


def extract_lafan1(tarball: Path) -> bytes:
    """The bytes of :data:`BVHTOOLS_MEMBER` from the sdist ``tarball``, checked against :data:`LAFAN1_SHA256`.

    Only that one regular-file member is read (no extraction to disk, no links followed).
    """
    try:
        if tarball.stat().st_size > _MAX_TARBALL_BYTES:
            raise RealWalkingUnavailable(f"{tarball.name} is larger than {_MAX_TARBALL_BYTES} bytes")
        with tarfile.open(tarball, mode="r:gz") as tar:
            try:
                member = tar.getmember(BVHTOOLS_MEMBER)
            except KeyError:
                raise RealWalkingUnavailable(f"{tarball.name} has no {BVHTOOLS_MEMBER}") from None
            if not member.isfile() or member.size > _MAX_BVH_BYTES:
                raise RealWalkingUnavailable(f"{BVHTOOLS_MEMBER} in {tarball.name} is not a plain small file")
            fh = tar.extractfile(member)
            if fh is None:  # pragma: no cover - isfile() members always have a file object
                raise RealWalkingUnavailable(f"cannot read {BVHTOOLS_MEMBER} from {tarball.name}")
            data = fh.read(_MAX_BVH_BYTES + 1)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise RealWalkingUnavailable(f"cannot read {tarball.name}: {exc}") from None
    digest = _sha256(data)
    if digest != LAFAN1_SHA256:
        raise RealWalkingUnavailable(
            f"{BVHTOOLS_MEMBER} has sha256 {digest[:16]}…, expected {LAFAN1_SHA256[:16]}…"
        )
    return data


def fetch_lafan1_bvh(cache_dir: Path | None = None) -> Path:
    """Path of the checked LaFAN1 take ``<cache>/lafan1/test.bvh``, downloading it when needed.

    ``cache_dir``: the argument, else ``$GAITPREP_CACHE``, else ``~/.cache/gaitprep``. A cached file with
    the right sha256 is returned as is; otherwise ``python -m pip download --no-deps --no-binary :all:
    bvhtools==1.6.0`` runs into a temporary folder, the one BVH member is read from the tarball, checked,
    written beside the target and renamed onto it atomically (two processes racing both write the same
    checked bytes; readers never see a partial file). Any failure raises :class:`RealWalkingUnavailable`.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / "lafan1" / "test.bvh"
    if _file_matches(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
            data = extract_lafan1(_download_sdist(Path(tmp)))
            staged = Path(tmp) / "test.bvh"
            staged.write_bytes(data)
            os.chmod(staged, 0o644)
            os.replace(staged, target)
    except OSError as exc:
        raise RealWalkingUnavailable(f"cannot write the LaFAN1 cache under {root}: {exc}") from None
    return target
