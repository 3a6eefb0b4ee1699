"""The spreadsheet's tabs and columns, as stable field keys with bilingual labels.

The default layout lives in `sheets_config/layout.toml`. Reading accepts either label of
a column in any order; `init` writes the labels of the configured language.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

SHEETS_CONFIG = Path(__file__).resolve().parent.parent / "sheets_config"

Language = Literal["zh", "en"]
TableKind = Literal["data", "output", "config"]
FIELD_TYPES = frozenset(
    {
        "id",
        "text",
        "datetime",
        "date",
        "month",
        "number",
        "integer",
        "bool",
        "choice",
        "person",
        "status",
        "email",
    }
)


@dataclass(frozen=True)
class FieldSpec:
    """One column: its key, labels, type and who owns it."""

    key: str
    zh: str
    en: str
    type: str
    required: bool = False
    owned: bool = False
    fill: bool = False
    choices: str | None = None
    min: float | None = None
    max: float | None = None

    def label(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class StageSpec:
    """One stage of an item's life: the field that completes it and its due column."""

    key: str
    zh: str
    en: str
    done: str
    due: str

    def label(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class TableSpec:
    """One tab: what it holds, its fields in default order, and its stages."""

    key: str
    kind: TableKind
    zh: str
    en: str
    fields: tuple[FieldSpec, ...]
    stages: tuple[StageSpec, ...] = ()
    start: str | None = None

    def title(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en

    def field(self, key: str) -> FieldSpec:
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"{self.key} has no field {key!r}") from None

    def has_field(self, key: str) -> bool:
        return key in self._by_key

    @cached_property
    def _by_key(self) -> dict[str, FieldSpec]:
        return {spec.key: spec for spec in self.fields}

    @property
    def owned_keys(self) -> tuple[str, ...]:
        return tuple(spec.key for spec in self.fields if spec.owned)

    @property
    def id_key(self) -> str | None:
        for spec in self.fields:
            if spec.type == "id":
                return spec.key
        return None

    def match_header(self, label: str) -> FieldSpec | None:
        """The field a header cell names, by either label, ignoring case and spaces."""
        wanted = fold(label)
        for spec in self.fields:
            if wanted in (fold(spec.zh), fold(spec.en), fold(spec.key)):
                return spec
        return None

    def matches_title(self, title: str) -> bool:
        wanted = fold(title)
        return wanted in (fold(self.zh), fold(self.en), fold(self.key))


@dataclass(frozen=True)
class Layout:
    """Every tab of the spreadsheet, in the order `init` creates them."""

    tables: tuple[TableSpec, ...]

    def table(self, key: str) -> TableSpec:
        for spec in self.tables:
            if spec.key == key:
                return spec
        raise KeyError(f"no table {key!r} in the layout")

    def of_kind(self, kind: TableKind) -> tuple[TableSpec, ...]:
        return tuple(spec for spec in self.tables if spec.kind == kind)


def fold(text: str) -> str:
    """The form two spellings are compared in: NFKC, no spaces, case folded."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def load_layout(path: Path | None = None) -> Layout:
    """Read a layout file; the default is `sheets_config/layout.toml`."""
    return _load_layout(path or SHEETS_CONFIG / "layout.toml")


@cache
def _load_layout(path: Path) -> Layout:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = []
    for key, raw in data["tables"].items():
        fields = tuple(FieldSpec(**field) for field in raw["fields"])
        for spec in fields:
            if spec.type not in FIELD_TYPES:
                raise ValueError(
                    f"{path}: {key}.{spec.key} has unknown type {spec.type}"
                )
        stages = tuple(StageSpec(**stage) for stage in raw.get("stages", ()))
        tables.append(
            TableSpec(
                key=key,
                kind=raw["kind"],
                zh=raw["zh"],
                en=raw["en"],
                fields=fields,
                stages=stages,
                start=raw.get("start"),
            )
        )
    return Layout(tuple(tables))


def load_defaults(path: Path | None = None) -> dict[str, list[dict[str, object]]]:
    """Default rows of the configuration tabs, keyed by table key."""
    path = path or SHEETS_CONFIG / "defaults.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {key: list(rows) for key, rows in data.items()}
