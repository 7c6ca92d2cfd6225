"""Artwork images in an S3-compatible object store, so several app servers share them.

Chosen with ``KINDRED_MEDIA_URL``::

    s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=eu-west-1

``endpoint`` is for stores other than Amazon's (SeaweedFS, MinIO, Ceph, ...); without it
boto3 finds Amazon S3 itself. Credentials come from the usual ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``, profiles or an instance role), or
from ``access_key=...&secret_key=...`` in the URL. The bucket must exist; the studio never
creates or opens it to the public: every image is served through the app, to members only.

An S3 put is atomic per object (a reader sees the whole image or none), and each upload
carries its SHA-256, which the store checks before keeping it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from .errors import ImagesUnavailable, NotFound, SaveFailed
from .media import Media, StoredImage, is_stored_name

__all__ = ["S3MediaStore", "S3Settings", "parse_media_url"]

log = logging.getLogger(__name__)

NAME = "KINDRED_MEDIA_URL"
OPTIONS = {"endpoint", "region", "access_key", "secret_key"}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9._/-]*$")
_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".png": "image/png"}
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Settings:
    """Which bucket (and key prefix) holds the images, and how to reach it."""

    bucket: str
    prefix: str = ""  # "" or "some/folder/"
    endpoint: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)


def parse_media_url(url: str) -> S3Settings:
    """Read ``s3://bucket[/prefix]?endpoint=...&region=...`` (ValueError naming the rule)."""
    # Messages never repeat the URL: it may hold a secret key.
    parts = urlsplit(url.strip())
    if parts.scheme != "s3":
        raise ValueError(
            f"{NAME} must start with s3:// (like s3://kindred-images?region=eu-west-1); "
            "leave it empty to keep images in the data folder."
        )
    bucket = parts.netloc
    if "@" in bucket or not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{NAME} needs a bucket name of 3 to 63 lowercase letters, digits, dots or "
            "hyphens, like s3://kindred-images."
        )
    prefix = parts.path.strip("/")
    if not _PREFIX.match(prefix) or ".." in prefix.split("/"):
        raise ValueError(f"{NAME} has a key prefix with characters we don't accept.")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ValueError(f"{NAME} has options we don't know: {', '.join(unknown)}.")
    one = {key: values[-1].strip() for key, values in options.items()}
    endpoint = one.get("endpoint", "")
    if endpoint:
        target = urlsplit(endpoint)
        try:
            target.port  # noqa: B018 - reading it checks the port
        except ValueError as exc:
            raise ValueError(f"{NAME} has an endpoint port that isn't a number.") from exc
        if target.scheme not in ("http", "https") or not target.hostname:
            raise ValueError(f"{NAME} needs an endpoint like endpoint=http://host:8333.")
    access_key, secret_key = one.get("access_key", ""), one.get("secret_key", "")
    if bool(access_key) != bool(secret_key):
        raise ValueError(f"{NAME} needs both access_key and secret_key, or neither.")
    return S3Settings(
        bucket=bucket,
        prefix=f"{prefix}/" if prefix else "",
        endpoint=endpoint.rstrip("/"),
        region=one.get("region", ""),
        access_key=access_key,
        secret_key=secret_key,
    )


class S3MediaStore(Media):
    """Images as objects in one bucket, under an optional key prefix."""

    shared = True

    def __init__(self, settings: S3Settings) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        self.settings = settings
        self._errors = (BotoCoreError, ClientError)
        self._client_error = ClientError
        # A client is thread-safe (a session is not): one client, made once, serves every
        # session's thread.
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint or None,
            region_name=settings.region or None,
            aws_access_key_id=settings.access_key or None,
            aws_secret_access_key=settings.secret_key or None,
            config=Config(
                # Stores other than Amazon's rarely have per-bucket host names.
                s3={"addressing_style": "path" if settings.endpoint else "auto"},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=32,
            ),
        )

    def where(self) -> str:
        place = f" at {self.settings.endpoint}" if self.settings.endpoint else ""
        return f"s3://{self.settings.bucket}/{self.settings.prefix}{place}"

    def label(self, name: str) -> str:
        return f"s3://{self.settings.bucket}/{self.settings.prefix}{name}"

    def _key(self, name: str) -> str:
        return self.settings.prefix + self.check_name(name)

    def _missing(self, exc: Exception) -> bool:
        if not isinstance(exc, self._client_error):
            return False
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.get("Code") in MISSING_CODES or status == 404

    def _unavailable(self, exc: Exception, doing: str) -> ImagesUnavailable:
        log.error("the image store failed %s: %s", doing, exc)
        return ImagesUnavailable()

    def write(self, name: str, data: bytes) -> str:
        key = self._key(name)
        digest = hashlib.sha256(data)
        try:
            self._client.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=data,
                ContentType=_TYPES.get(key[key.rfind(".") :], "application/octet-stream"),
                # The store refuses the upload unless the bytes it got match.
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
            )
        except self._errors as exc:
            log.error("the image store failed saving an image: %s", exc)
            raise SaveFailed() from exc
        return digest.hexdigest()

    def read(self, name: str) -> bytes:
        with self.open(name) as body:
            try:
                return body.read()
            except self._errors as exc:
                raise self._unavailable(exc, "reading an image") from exc

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        key = self._key(name)
        try:
            answer = self._client.get_object(Bucket=self.settings.bucket, Key=key)
        except self._errors as exc:
            if self._missing(exc):
                raise NotFound("That image file is missing.") from exc
            raise self._unavailable(exc, "reading an image") from exc
        body = answer["Body"]
        try:
            yield body
        except self._errors as exc:
            raise self._unavailable(exc, "reading an image") from exc
        finally:
            body.close()

    def _head(self, name: str) -> dict | None:
        try:
            key = self._key(name)
        except NotFound:
            return None
        try:
            return self._client.head_object(Bucket=self.settings.bucket, Key=key)
        except self._errors as exc:
            if self._missing(exc):
                return None
            raise self._unavailable(exc, "looking at an image") from exc

    def exists(self, name: str) -> bool:
        return self._head(name) is not None

    def size(self, name: str) -> int:
        head = self._head(name)
        if head is None:
            raise NotFound("That image file is missing.")
        return int(head["ContentLength"])

    def delete(self, names: list[str]) -> None:
        keys = [self.settings.prefix + n for n in names if is_stored_name(n)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                answer = self._client.delete_objects(
                    Bucket=self.settings.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except self._errors as exc:
                raise self._unavailable(exc, "deleting images") from exc
            failed = [e for e in answer.get("Errors", []) if e.get("Code") not in MISSING_CODES]
            if failed:
                log.error(
                    "the image store kept %d images it was asked to delete (%s)",
                    len(failed),
                    failed[0].get("Code"),
                )
                raise ImagesUnavailable()

    def entries(self) -> list[StoredImage]:
        prefix = self.settings.prefix
        found = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.settings.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if is_stored_name(name):
                        found.append(
                            StoredImage(name, int(item["Size"]), item["LastModified"].timestamp())
                        )
        except self._errors as exc:
            raise self._unavailable(exc, "listing images") from exc
        return sorted(found, key=lambda entry: entry.name)
