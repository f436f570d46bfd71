"""SHA-256 of model files, cached in a manifest keyed by size and mtime.

A 48 GB model takes minutes to hash; a worker restart should not pay that again when the
files have not changed. A changed size or mtime invalidates an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CACHE_DIR_VARIABLE = "GLASSBOX_CACHE_DIR"
_CHUNK = 8 * 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_path(directory: Path) -> Path:
    """Where the manifest for ``directory`` is cached (model directories may be read-only)."""
    base = Path(os.environ.get(CACHE_DIR_VARIABLE) or Path.home() / ".cache" / "glassbox")
    key = hashlib.sha256(str(directory.resolve()).encode("utf-8")).hexdigest()[:24]
    return base / "manifests" / f"{key}.json"


def hash_files(directory: Path, files: tuple[Path, ...]) -> dict[str, str]:
    """SHA-256 of each file by name relative to ``directory``, reusing cached digests."""
    cache_file = manifest_path(directory)
    cached = _read_manifest(cache_file)
    stats = {path: path.stat() for path in files}
    result: dict[str, str] = {}
    todo: list[Path] = []
    for path, stat in stats.items():
        entry = cached.get(path.name)
        if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
            result[path.name] = str(entry["sha256"])
        else:
            todo.append(path)
    if todo:
        # hashlib releases the GIL on large buffers, so shards hash in parallel.
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            for path, digest in zip(todo, pool.map(sha256_file, todo), strict=True):
                result[path.name] = digest
                cached[path.name] = {
                    "size": stats[path].st_size,
                    "mtime_ns": stats[path].st_mtime_ns,
                    "sha256": digest,
                }
        _write_manifest(cache_file, cached)
    return dict(sorted(result.items()))


def combined_digest(digests: dict[str, str]) -> str:
    """One SHA-256 over ``name  sha256`` lines (sha256sum's layout), to show a whole model as one value."""
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))
    return sha256_text(lines)


def _read_manifest(path: Path) -> dict[str, dict[str, int | str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(path: Path, data: dict[str, dict[str, int | str]]) -> None:
    # Unwritable cache: hashing still worked, it just is not remembered.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass
