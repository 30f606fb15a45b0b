"""The thin driver layer: which DB-API module, how a URL becomes ``connect()`` arguments, and
which errors mean a lost connection.

URL forms (docs/sqlalchemy.md)::

    strata:///relative/dir            strata:////absolute/dir
    strata+gs://bucket/prefix         strata+s3://bucket/prefix     strata+az://container/prefix
    strata+memory://name              strata+<any fsspec protocol>://…

Query parameters: ``mode=ro`` (read-only), ``writer=exclusive`` (the single fenced writer;
``writer=shared`` is the default), ``checkpoint=NAME`` (the database as of that checkpoint,
read-only), ``max_staleness_ms=N``, ``durable=false``,
``autocommit=true``; every other parameter is a storage option for the fsspec backend
(``endpoint_url``, ``token``, ``project``, ``key``, ``secret``, …). Storage options may be
credentials, so the engine's ``url`` (what ``repr(engine)`` and logs print) shows each of
their values as ``redacted``; connections use the values given.
"""

from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any

from sqlalchemy.engine import URL, Engine

from dialect.sqla.base import StrataDialect

_FLAGS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
#: URL parameters that are Strata's own; any other is a storage option, maybe a credential.
_OWN_PARAMETERS = frozenset(
    {"mode", "writer", "max_staleness_ms", "checkpoint", "durable", "autocommit"}
)
MASK = "redacted"


def masked(url: URL) -> URL:
    """``url`` with the value of every storage option (any query parameter that is not one of
    Strata's own) replaced by ``redacted``."""
    hidden = {name: MASK for name in url.query if name not in _OWN_PARAMETERS}
    return url.update_query_dict(hidden) if hidden else url


def _flag(name: str, value: str) -> bool:
    try:
        return _FLAGS[value.lower()]
    except KeyError:
        raise ValueError(f"URL parameter {name}={value!r}: expected true or false") from None


class StrataDialect_strata(StrataDialect):
    """``strata://`` and ``strata+<protocol>://``."""

    driver = "strata"
    supports_statement_cache = True

    @classmethod
    def engine_created(cls, engine: Engine) -> None:
        """Hide storage options from ``engine.url`` (``repr(engine)``, SQLAlchemy's logs):
        the pool already holds the connect arguments made from the full URL."""
        engine.url = masked(engine.url)

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        import dialect

        return dialect

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        protocol = url.get_driver_name() if "+" in url.drivername else ""
        if protocol in ("", "strata", "file", "local"):
            if not url.database:
                raise ValueError("strata:///path needs a directory (strata:////abs/dir)")
            target = url.database
        elif protocol == "memory":
            target = f"memory://{url.host or ''}{('/' + url.database) if url.database else ''}"
        else:
            if not url.host:
                raise ValueError(f"strata+{protocol}:// needs a bucket or container")
            target = f"{protocol}://{url.host}" + (f"/{url.database}" if url.database else "")
        kwargs: dict[str, Any] = {}
        for name, value in url.query.items():
            text = value if isinstance(value, str) else value[-1]
            if name == "mode":
                if text not in ("ro", "rw"):
                    raise ValueError("URL parameter mode must be ro or rw")
                kwargs["read_only"] = text == "ro"
            elif name == "writer":
                if text not in ("shared", "exclusive"):
                    raise ValueError("URL parameter writer must be shared or exclusive")
                kwargs["exclusive"] = text == "exclusive"
            elif name == "max_staleness_ms":
                if not text.isdigit():
                    raise ValueError("URL parameter max_staleness_ms must be a whole number")
                kwargs["max_staleness_ms"] = int(text)
            elif name == "checkpoint":
                if not text:
                    raise ValueError("URL parameter checkpoint needs a checkpoint name")
                kwargs["checkpoint"] = text
            elif name in ("durable", "autocommit"):
                kwargs[name] = _flag(name, text)
            else:
                kwargs[name] = (
                    _FLAGS.get(text.lower(), text) if text.lower() in ("true", "false") else text
                )
        if url.username or url.password:
            raise ValueError("pass credentials as storage options (e.g. ?token=…), not user:pass")
        return [target], kwargs

    def on_connect(self) -> None:
        return None

    def is_disconnect(self, e: Exception, connection: Any, cursor: Any) -> bool:
        import dialect

        return isinstance(e, dialect.InterfaceError) and "closed" in str(e)


dialect = StrataDialect_strata

with contextlib.suppress(ImportError):  # Alembic is optional; its impl registers on import
    from dialect.sqla import alembic_impl  # noqa: F401
