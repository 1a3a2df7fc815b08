"""Where published files go: a directory (served by nginx) or an S3-compatible bucket.

A directory is written atomically per file (POSIX ``rename(2)`` over the old name, after
``fsync`` of the new content): a reader opens either the old file or the new one, never a
part. Next to a text file its gzip (``.gz``) and Brotli (``.br``) encodings are written the
same way, for nginx's ``gzip_static`` and ``brotli_static``; each is complete on its own, so a
reader that gets an older encoding still gets a whole, valid file.

An S3 ``PutObject`` replaces an object atomically by the protocol, so the bucket target
writes each key once, with its ``Cache-Control`` and ``Content-Type`` (the bucket or the CDN
in front of it does the compression).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import brotli

from registry.publishing.paths import cache_control, content_type, is_compressible

__all__ = ["BucketTarget", "DirectoryTarget", "Target", "atomic_write"]

BROTLI_QUALITY = 5
"""Brotli's quality for published files: within a few percent of 9's size at a tenth of its
time (the files are rewritten within the 2 s of a status change)."""


class Target(Protocol):
    """Somewhere published files are written, by their path in the published tree."""

    def write(self, path: str, body: bytes) -> None:
        """Write ``body`` at ``path`` (e.g. ``e/ABC/index.html``), replacing it atomically."""

    def write_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write each ``(path, body)``; all are written when this returns."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` has been written."""

    def read(self, path: str) -> bytes | None:
        """The bytes at ``path``, or None."""


def atomic_write(path: Path, body: bytes) -> None:
    """Write ``body`` to ``path`` so that no reader ever sees a part of it: a temporary file in
    the same directory, ``fsync``, ``rename`` over ``path``. The directory is not synced for
    each file (published files are derived state: after a crash the publisher rewrites what
    its state does not list as written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from the web server
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


class DirectoryTarget:
    """A directory a static web server serves as-is (deploy/nginx.conf)."""

    def __init__(self, root: Path, *, compress: bool = True) -> None:
        self.root = Path(root)
        self.compress = compress
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="publish-write")
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, path: str) -> Path:
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"not a relative published path: {path!r}")
        return self.root / path

    def write(self, path: str, body: bytes) -> None:
        """Write ``path`` and, for text, its ``.gz`` and ``.br`` (each atomically, encodings
        first so that the identity file never names content its encodings lack for long)."""
        target = self._path(path)
        if self.compress and is_compressible(path):
            atomic_write(target.with_name(target.name + ".gz"), gzip.compress(body, 6, mtime=0))
            atomic_write(
                target.with_name(target.name + ".br"), brotli.compress(body, quality=BROTLI_QUALITY)
            )
        atomic_write(target, body)

    def write_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write several files at once (compression and fsync overlap in a few threads);
        each file is still atomic, and all are written when this returns."""
        if len(files) <= 1:
            for path, body in files:
                self.write(path, body)
            return
        list(self._pool.map(lambda item: self.write(*item), files))

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists in the directory."""
        return self._path(path).is_file()

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None."""
        try:
            return self._path(path).read_bytes()
        except FileNotFoundError:
            return None


class BucketTarget:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, OSS/COS in S3 mode) through boto3.

    ``client`` is a boto3 S3 client (``boto3.client("s3", endpoint_url=...)``); each object
    gets the path's ``Cache-Control`` and ``Content-Type`` (``registry.publishing.paths``)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_url(cls, url: str) -> BucketTarget:
        """``s3://bucket/prefix``; endpoint and credentials from boto3's usual environment
        (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID`` …)."""
        import boto3

        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        return cls(boto3.client("s3"), bucket, prefix)

    def write_many(self, files: Sequence[tuple[str, bytes]]) -> None:
        """One ``PutObject`` each."""
        for path, body in files:
            self.write(path, body)

    def write(self, path: str, body: bytes) -> None:
        """One ``PutObject``: atomic replacement of the key."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + path,
            Body=body,
            CacheControl=cache_control(path),
            ContentType=content_type(path),
        )

    def exists(self, path: str) -> bool:
        """Whether the key exists (``HeadObject``)."""
        return self.read(path) is not None

    def read(self, path: str) -> bytes | None:
        """The object's bytes, or None if there is none."""
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.prefix + path)
        except Exception as exc:  # botocore's NoSuchKey / 404 ClientError
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return bytes(found["Body"].read())
