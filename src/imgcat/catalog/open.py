"""Choose and open the catalog store from the user's options and environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import platformdirs
from elasticsearch import Elasticsearch

from imgcat import settings
from imgcat.catalog.base import Catalog
from imgcat.catalog.elastic import DEFAULT_INDEX, ElasticCatalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.errors import UsageError

DEFAULT_ES_HOST = "localhost"
DEFAULT_ES_PORT = 9200


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    path: Path


@dataclass(frozen=True, slots=True)
class ElasticTarget:
    url: str
    index: str = DEFAULT_INDEX
    user: str | None = None
    password: str | None = None
    api_key: str | None = None
    ca_certs: Path | None = None

    def __repr__(self) -> str:
        return f"ElasticTarget(url={self.url!r}, index={self.index!r})"


StoreTarget = SqliteTarget | ElasticTarget


def default_db_path() -> Path:
    return platformdirs.user_data_path("imgcat") / "catalog.sqlite"


def store_target(
    *,
    es: str | None = None,
    host: str | None = None,
    port: int | None = None,
    index: str | None = None,
    ca_certs: Path | None = None,
    db: Path | None = None,
) -> StoreTarget:
    """The store the options name. `--host/--port/--index` are the original tool's way to say
    Elasticsearch (localhost:9200, index catalog); `--es URL` the new one; else SQLite."""
    es = es or settings.ES_URL.read()
    if es is None and host is None and port is None and index is None:
        db_setting = settings.DB.read()
        return SqliteTarget(db or (Path(db_setting) if db_setting else default_db_path()))
    if es is not None and (host is not None or port is not None):
        raise UsageError("give either --es URL or --host/--port, not both")
    url = es or f"http://{host or DEFAULT_ES_HOST}:{port or DEFAULT_ES_PORT}"
    clean_url, user, password = split_credentials(url)
    ca_setting = settings.ES_CA_CERTS.read()
    return ElasticTarget(
        url=clean_url,
        index=index or DEFAULT_INDEX,
        user=user or settings.ES_USER.read(),
        password=password or settings.ES_PASSWORD.read(),
        api_key=settings.ES_API_KEY.read(),
        ca_certs=ca_certs or (Path(ca_setting) if ca_setting else None),
    )


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`https://u:p@host:9200` → (`https://host:9200`, 'u', 'p'); the URL shown never has them."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--es expects http(s)://HOST:PORT, got {redact(url)!r}")
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return clean, user, password


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def open_catalog(target: StoreTarget) -> Catalog:
    if isinstance(target, SqliteTarget):
        return SqliteCatalog(target.path)
    tls: dict[str, Any] = {} if target.ca_certs is None else {"ca_certs": str(target.ca_certs)}
    client = Elasticsearch(
        target.url,
        basic_auth=(target.user, target.password or "") if target.user else None,
        api_key=target.api_key,
        request_timeout=30,
        max_retries=2,
        retry_on_timeout=True,
        **tls,
    )
    return ElasticCatalog(client, target.url, target.index)
