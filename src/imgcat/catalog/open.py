"""Choose and open the catalog store from the user's options and environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from imgcat import settings
from imgcat.catalog.base import Catalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.errors import CatalogMissingError, UsageError

DEFAULT_ES_HOST = "localhost"
DEFAULT_ES_PORT = 9200
DEFAULT_INDEX: Final = "catalog"


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    path: Path
    named: bool = False  # by --db: a missing file there is a typo, not a first run (IMGCAT_DB is set up once)


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
    import platformdirs  # loaded when the default catalog is asked for, not with --db

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
        if db is not None:
            return SqliteTarget(db, named=True)
        db_setting = settings.DB.read()
        return SqliteTarget(Path(db_setting) if db_setting else default_db_path())
    if es is not None and (host is not None or port is not None):
        raise UsageError("give either --es URL or --host/--port, not both")
    clean_url, user, password = split_credentials(es or host_url(host, port))
    ca_setting = settings.ES_CA_CERTS.read()
    target = ElasticTarget(
        url=clean_url,
        index=index or DEFAULT_INDEX,
        user=user or settings.ES_USER.read(),
        password=password or settings.ES_PASSWORD.read(),
        api_key=settings.ES_API_KEY.read(),
        ca_certs=ca_certs or (Path(ca_setting) if ca_setting else None),
    )
    if target.user and target.api_key:
        raise UsageError(
            "give Elasticsearch either a user (in the URL or IMGCAT_ES_USER) or IMGCAT_ES_API_KEY, not both"
        )
    return target


def host_url(host: str | None, port: int | None) -> str:
    """The URL the original `--host/--port` name: `nas` → http://nas:9200. A host given with its
    scheme (`https://nas`, `https://nas:9243`) keeps it, and its own port unless --port is given."""
    host = host or DEFAULT_ES_HOST
    if "://" not in host:
        return f"http://{host}:{port or DEFAULT_ES_PORT}"
    if port is None and _port_of(host) is not None:
        return host
    parts = urlsplit(host)
    user, at, address = parts.netloc.rpartition("@")
    name = address[: address.index("]") + 1] if address.startswith("[") else address.split(":")[0]
    netloc = f"{user}{at}{name}:{port or DEFAULT_ES_PORT}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`https://u:p@host:9200` → (`https://host:9200`, 'u', 'p'); the URL shown never has them."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--es expects http(s)://HOST:PORT, got {redact(url)!r}")
    port = _port_of(url)
    netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc += "" if port is None else f":{port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return clean, user, password


def _port_of(url: str) -> int | None:
    try:
        return urlsplit(url).port
    except ValueError as error:  # out of range, or not a number
        raise UsageError(f"bad port in Elasticsearch URL {redact(url)!r}: give 1-65535") from error


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def open_catalog(target: StoreTarget, *, create: bool = False) -> Catalog:
    """Open the store; a SQLite file the user named must exist unless the command `create`s it (`add`):
    a mistyped `--db` is an error, not a new empty catalog that finds nothing."""
    if isinstance(target, SqliteTarget):
        if target.named and not create and not target.path.exists():
            raise CatalogMissingError(
                f"no catalog at {target.path}: `imgcat add DIR --db {target.path}` creates one"
            )
        return SqliteCatalog(target.path)
    # The Elasticsearch client takes longer to import than most commands take to run: only a
    # command that opens an Elasticsearch store loads it.
    from elasticsearch import Elasticsearch

    from imgcat.catalog.elastic import ElasticCatalog

    return ElasticCatalog(Elasticsearch(**client_options(target)), target.url, target.index)


# A bulk write waits up to a minute for unavailable primary shards (the server's default `timeout`)
# before answering with the reason; the client waits longer, so a red cluster is reported as such
# rather than as a timeout (and the write is not sent again meanwhile).
REQUEST_TIMEOUT_S: Final = 90


def client_options(target: ElasticTarget) -> dict[str, Any]:
    """The Elasticsearch client's arguments for a target."""
    options: dict[str, Any] = {
        "hosts": [target.url],
        "request_timeout": REQUEST_TIMEOUT_S,
        "max_retries": 2,
        "retry_on_timeout": True,
    }
    if target.user:
        options["basic_auth"] = (target.user, target.password or "")
    if target.api_key:
        options["api_key"] = target.api_key
    if target.ca_certs is not None:
        options["ca_certs"] = str(target.ca_certs)
    return options
