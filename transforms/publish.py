"""Publish a dataset manifest atomically, refusing to overwrite a version someone else published.

A dataset's published version is one small JSON object (`manifest.json`).
Readers load it once and then read only the files it lists, so replacing that
one object is what makes a new version visible; it must be

- atomic: a reader sees the old manifest or the new one, never a mix or a
  torn write;
- conditional: a publisher names the version it started from, and publishing
  fails with `ConcurrentPublishError` if another publisher replaced it since
  (compare-and-swap), instead of silently dropping the other's work.

How, per storage:
- local files: write a temporary sibling, fsync, `os.replace` (atomic on
  POSIX), fsync the directory; the compare and the replace happen under an
  exclusive `flock` on a lock file next to the manifest. The version token is
  the sha256 of the manifest's bytes.
- `gs://`: `google-cloud-storage` with `if_generation_match` (0 = "must not
  exist yet"); the token is the object generation. GCS makes a new object
  visible only when its upload completes, and the precondition makes the
  compare and the write one server-side step.
- any other fsspec URL: a direct write (object stores publish whole objects)
  after re-reading and comparing the token. The compare and the write are two
  steps there, so two publishers racing within that window are not detected;
  the log says so once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import uuid
from typing import Any, Callable

_LOG = logging.getLogger(__name__)

TEMP_MARK = ".tmp-"  # temporary manifests are `.<name>.tmp-<uuid>`: hidden, never read


class ConcurrentPublishError(RuntimeError):
    """Another publisher replaced the manifest after this one read it."""


class ManifestError(ValueError):
    """The published manifest exists but is not a JSON object."""


@dataclasses.dataclass(frozen=True)
class Published:
    """What a reader found: the manifest (None if none is published yet) and its version token."""
    manifest: dict[str, Any] | None
    token: Any  # sha256 text (local, fsspec) or generation (GCS); None when nothing is published


def encode(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")


def decode(data: bytes, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"{where}: not a JSON manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{where}: a manifest must be a JSON object")
    return manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ManifestPublisher:
    """Reads the published manifest and replaces it, conditionally on the version read."""

    path: str

    def read(self) -> Published:
        raise NotImplementedError

    def remove_stale_temporaries(self) -> list[str]:
        """Delete staged manifests a killed publisher left; returns their paths (none on object stores)."""
        return []

    def publish(self, manifest: dict[str, Any], expected: Published, *,
                before_replace: Callable[[], None] | None = None) -> Published:
        """Make `manifest` the published version if `expected` is still the published one.

        `before_replace` runs after the new bytes are staged and before they
        become visible (a test hook for killing a publisher at that point).
        """
        raise NotImplementedError

    def _conflict(self, expected: Published, current: Published) -> ConcurrentPublishError:
        def version(published: Published) -> Any:
            return published.manifest.get("version", "?") if published.manifest is not None else "none"
        return ConcurrentPublishError(
            f"{self.path} changed while this refresh ran (it read version {version(expected)}, now "
            f"version {version(current)} is published by another publisher); nothing was published by "
            f"this one: rerun it to build on the new version")


class LocalPublisher(ManifestPublisher):
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        directory, name = os.path.split(self.path)
        self._lock_path = os.path.join(directory, f".{name}.lock")

    def read(self) -> Published:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return Published(None, None)
        return Published(decode(data, self.path), _sha256(data))

    def remove_stale_temporaries(self) -> list[str]:
        # A publisher stages and replaces while holding the lock, so under the
        # lock any staged manifest is a dead publisher's: no grace period needed.
        directory, name = os.path.split(self.path)
        removed = []
        with self._locked():
            for entry in sorted(os.listdir(directory)):
                if entry.startswith(f".{name}{TEMP_MARK}"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(directory, entry))
                        removed.append(os.path.join(directory, entry))
        return removed

    @contextlib.contextmanager
    def _locked(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            try:
                import fcntl
            except ImportError:  # not POSIX: no cross-process lock, the replace is still atomic
                yield
                return
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def publish(self, manifest, expected, *, before_replace=None):
        data = encode(manifest)
        directory, name = os.path.split(self.path)
        with self._locked():
            current = self.read()
            if current.token != expected.token:
                raise self._conflict(expected, current)
            temporary = os.path.join(directory, f".{name}{TEMP_MARK}{uuid.uuid4().hex}")
            try:
                with open(temporary, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                if before_replace is not None:
                    before_replace()
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(temporary)
                raise
            _fsync_directory(directory)
        return Published(manifest, _sha256(data))


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (a crash right after must not bring the old name back)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class GCSPublisher(ManifestPublisher):
    """`gs://bucket/path/manifest.json` through google-cloud-storage generation preconditions.

    `client` is a `google.cloud.storage.Client` (made on first use) or any
    object with the same `bucket(name)` -> bucket with `get_blob(name)` /
    `blob(name)`, blobs with `generation`, `download_as_bytes(...)` and
    `upload_from_string(...)`: tests pass an in-memory fake.
    """

    def __init__(self, url: str, client: Any = None):
        if not url.startswith("gs://"):
            raise ValueError(f"not a gs:// URL: {url!r}")
        self.path = url
        self._bucket_name, _, self._name = url[len("gs://"):].partition("/")
        if not self._bucket_name or not self._name:
            raise ValueError(f"gs:// URL needs a bucket and an object name: {url!r}")
        self._client = client

    def _bucket(self):
        if self._client is None:
            from google.cloud import storage  # lazy: only GCS datasets need it
            self._client = storage.Client()
        return self._client.bucket(self._bucket_name)

    def read(self) -> Published:
        from google.api_core import exceptions

        bucket = self._bucket()
        for _ in range(5):  # the object may be replaced between the metadata and the download
            blob = bucket.get_blob(self._name)
            if blob is None:
                return Published(None, None)
            try:
                data = blob.download_as_bytes(if_generation_match=blob.generation)
            except (exceptions.PreconditionFailed, exceptions.NotFound):
                continue
            return Published(decode(data, self.path), int(blob.generation))
        raise ConcurrentPublishError(f"{self.path} kept changing while being read")

    def publish(self, manifest, expected, *, before_replace=None):
        from google.api_core import exceptions

        data = encode(manifest)
        blob = self._bucket().blob(self._name)
        blob.cache_control = "no-store"  # readers must not get a cached older version
        if before_replace is not None:
            before_replace()
        try:
            blob.upload_from_string(data, content_type="application/json",
                                    if_generation_match=int(expected.token or 0))
        except exceptions.PreconditionFailed:
            current = self.read()
            # A retried upload whose first attempt did land fails its own precondition: that is success.
            if current.manifest is not None and encode(current.manifest) == data:
                return current
            raise self._conflict(expected, current) from None
        return Published(manifest, int(blob.generation) if blob.generation is not None else None)


class FsspecPublisher(ManifestPublisher):
    """Any other fsspec URL: whole-object writes; the compare before the write is best effort."""

    _warned = False

    def __init__(self, url: str):
        import fsspec

        self.path = url
        self._fs, _, [self._stripped] = fsspec.get_fs_token_paths(url)

    def read(self) -> Published:
        try:
            data = self._fs.cat_file(self._stripped)
        except FileNotFoundError:
            return Published(None, None)
        return Published(decode(data, self.path), _sha256(data))

    def publish(self, manifest, expected, *, before_replace=None):
        if not FsspecPublisher._warned:
            FsspecPublisher._warned = True
            _LOG.warning("%s: this storage has no write precondition; concurrent publishers are detected "
                         "only outside a short window", self.path)
        current = self.read()
        if current.token != expected.token:
            raise self._conflict(expected, current)
        data = encode(manifest)
        if before_replace is not None:
            before_replace()
        self._fs.pipe_file(self._stripped, data)
        return Published(manifest, _sha256(data))


def publisher_for(path: str, *, gcs_client: Any = None) -> ManifestPublisher:
    """The publisher for a manifest path: local file, `gs://` object or other fsspec URL."""
    if "://" not in path or path.startswith("file://"):
        return LocalPublisher(path[len("file://"):] if path.startswith("file://") else path)
    if path.startswith("gs://"):
        return GCSPublisher(path, client=gcs_client)
    return FsspecPublisher(path)
