"""The bucket behind a small interface: boto3 with retries, checked keys, verified bytes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import SyncAuthError, SyncError, UnsafeRemote

MULTIPART_THRESHOLD = 8 * 1024 * 1024
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken",
               "InvalidToken", "UnrecognizedClientException", "403"}
_SEGMENT = re.compile(r"^[A-Za-z0-9._\-]+$")


def safe_relative_key(key: str) -> str:
    """A key relative to the prefix, refused if it could escape or confuse a path."""
    if (not key or "\x00" in key or "\\" in key or key.startswith("/")
            or any(part in ("", ".", "..") for part in key.split("/"))
            or not all(_SEGMENT.match(part) for part in key.split("/"))):
        raise UnsafeRemote(
            f"refusing the bucket entry {key!r}: keys must be plain relative names "
            "(no '..', absolute paths, backslashes or NUL); nothing was written"
        )
    return key


@dataclass(frozen=True)
class RemoteConfig:
    """Where the library syncs. Credentials come from the standard AWS chain, never here."""

    bucket: str
    prefix: str = "scandex"
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    max_attempts: int = 8
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if len(self.bucket) < 3 or "/" in self.bucket:
            raise SyncError(f"'{self.bucket}' is not a bucket name (3+ characters, no '/')")
        if self.prefix:
            safe_relative_key(self.prefix.strip("/"))

    def save(self, path: Path) -> None:
        """Remember the remote (no secrets) so originals can be fetched later."""
        data = {k: v for k, v in asdict(self).items() if v is not None}
        path.write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, path: Path) -> RemoteConfig | None:
        """The remote saved by the last push or pull, if any."""
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


class S3Remote:
    """A prefix in a bucket."""

    def __init__(self, config: RemoteConfig, client: Any = None) -> None:
        self.config = config
        self.prefix = config.prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3 is imported lazily)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(profile_name=self.config.profile or None)
            self._client = session.client(
                "s3",
                endpoint_url=self.config.endpoint_url or None,
                region_name=self.config.region or "us-east-1",
                config=Config(
                    retries={"max_attempts": self.config.max_attempts, "mode": "standard"},
                    connect_timeout=self.config.connect_timeout_s,
                    read_timeout=self.config.read_timeout_s,
                    s3={"addressing_style": "path"} if self.config.endpoint_url else {},
                ),
            )
        return self._client

    def key(self, relative: str) -> str:
        """The full key of a relative key (checked)."""
        safe_relative_key(relative)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = f"s3://{self.config.bucket}/{self.prefix}"
        try:
            return fn()
        except NoCredentialsError as e:
            raise SyncAuthError(
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a "
                "profile (--profile) or an instance role"
            ) from e
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "error"))
            if code in _AUTH_CODES:
                raise SyncAuthError(
                    f"{where} refused our credentials ({code}) while trying to {what}; check "
                    "the access key, secret and the bucket policy"
                ) from e
            if code in ("NoSuchBucket",):
                raise SyncError(f"bucket '{self.config.bucket}' does not exist; create it "
                                "first") from e
            raise SyncError(f"{where}: cannot {what} ({code})") from e
        except EndpointConnectionError as e:
            raise SyncError(f"cannot reach {self.config.endpoint_url or 'S3'} to {what}; "
                            "check the endpoint URL and the network, then run it again") from e
        except BotoCoreError as e:
            raise SyncError(f"{where}: cannot {what} ({type(e).__name__}); run it again") from e

    def exists(self, relative: str) -> bool:
        """Whether an object exists."""
        from botocore.exceptions import ClientError

        key = self.key(relative)

        def head() -> bool:
            try:
                self.client.head_object(Bucket=self.config.bucket, Key=key)
                return True
            except ClientError as e:
                if str(e.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

        return bool(self._call(f"check {relative}", head))

    def list(self, relative_prefix: str) -> dict[str, int]:
        """Relative keys under a relative prefix, with their sizes (paginated)."""
        full = self.key(relative_prefix.rstrip("/")) + "/"
        cut = len(self.prefix) + 1 if self.prefix else 0

        def listing() -> dict[str, int]:
            out: dict[str, int] = {}
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.config.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    out[item["Key"][cut:]] = int(item["Size"])
            return out

        result: dict[str, int] = self._call(f"list {relative_prefix}", listing)
        return result

    def upload_file(self, path: Path, relative: str, *, sha256: str,
                    on_bytes: Callable[[int], None] | None = None) -> None:
        """Upload a file (multipart above 8 MiB), tagging its SHA-256."""
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                multipart_chunksize=MULTIPART_THRESHOLD, use_threads=True)
        key = self.key(relative)
        self._call(f"upload {relative}", lambda: self.client.upload_file(
            str(path), self.config.bucket, key, Config=config, Callback=on_bytes,
            ExtraArgs={"Metadata": {"sha256": sha256}}))

    def download_file(self, relative: str, target: Path, *, sha256: str,
                      on_bytes: Callable[[int], None] | None = None) -> None:
        """Download to target, keeping it only if its SHA-256 matches."""
        key = self.key(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._call(f"download {relative}", lambda: self.client.download_file(
                self.config.bucket, key, str(tmp), Callback=on_bytes))
            digest = hashlib.sha256()
            with tmp.open("rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != sha256:
                raise SyncError(
                    f"{relative} in the bucket does not match its SHA-256 (corrupt or "
                    "tampered); it was not kept. Push it again from a library that has it"
                )
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)

    def get_json(self, relative: str) -> Any:
        """A JSON object, or None when it does not exist."""
        if not self.exists(relative):
            return None
        key = self.key(relative)
        body = self._call(f"read {relative}", lambda: self.client.get_object(
            Bucket=self.config.bucket, Key=key)["Body"].read())
        try:
            return json.loads(body)
        except ValueError as e:
            raise SyncError(f"{relative} in the bucket is not valid JSON") from e

    def put_json(self, relative: str, data: Any) -> None:
        """Write a JSON object."""
        key = self.key(relative)
        body = json.dumps(data, indent=1, sort_keys=True).encode()
        self._call(f"write {relative}", lambda: self.client.put_object(
            Bucket=self.config.bucket, Key=key, Body=body, ContentType="application/json"))
