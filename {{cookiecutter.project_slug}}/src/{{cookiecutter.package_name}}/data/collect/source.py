"""What to collect: one source from the command line, or several from collect.yaml."""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CollectError

Kind = Literal["auto", "csv", "excel", "json", "html"]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The folder and file names under data/collected/: letters, digits, - and _.
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    url: str
    # auto: from the Content-Type, the address and the first bytes.
    kind: Kind = "auto"
    # JSON: the (dotted) key that holds the list of records, when there are several lists.
    records_key: str = ""
    # HTML: which table (its index from 0, or a text in its header); Excel: the sheet.
    table: str = ""
    # Pagination by number or offset, when the source gives no `next` link.
    page_param: str = ""
    offset_param: str = ""
    start_page: int = 1
    # Rows with the same values here are the same row (empty: the whole row).
    key_columns: list[str] = Field(default_factory=list)
    # The source's licence or terms of use, in your words: it goes in the manifest.
    terms: str = ""

    @field_validator("url")
    @classmethod
    def http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def fingerprint(self) -> dict:
        """What decides which pages are fetched: a resumed run must have the same."""
        return self.model_dump(
            include={
                "url",
                "kind",
                "records_key",
                "table",
                "page_param",
                "offset_param",
                "start_page",
            }
        )


def load_sources(path: Path) -> list[Source]:
    if not path.is_file():
        raise CollectError(
            f"No SOURCE= given and no {path}: run `make collect SOURCE=<url> NAME=<name>`, "
            f"or list your sources in {path}"
        )
    try:
        document = yaml.safe_load(path.read_text()) or {}
        sources = [Source.model_validate(item) for item in document.get("sources") or []]
    except yaml.YAMLError as error:
        raise CollectError(f"{path} is not valid YAML ({error}).") from None
    except (ValidationError, AttributeError) as error:
        raise CollectError(f"{path}: {error}".replace("\n", " ")) from None
    if not sources:
        raise CollectError(
            f"{path} lists no sources: uncomment its example or pass SOURCE= and NAME="
        )
    return sources
