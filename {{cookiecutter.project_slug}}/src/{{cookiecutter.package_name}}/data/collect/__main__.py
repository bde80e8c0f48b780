"""`make collect`: collect a data set of your own from a web API, a CSV/Excel link or an HTML table.

    python -m {{ cookiecutter.package_name }}.data.collect --source URL --name NAME [--kind json]
    python -m {{ cookiecutter.package_name }}.data.collect            # every source in collect.yaml

Exit codes: 0 collected, 2 bad input (the source, its answer or a setting), 130 interrupted
(what was fetched is kept: run the same command again to resume).
"""

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ... import cli
from ...config import SettingsProblem
from .errors import CollectError, SchemaChanged
from .run import Partial, collect
from .settings import CollectSettings, load_collect_settings
from .snapshots import TERMS_TODO, Store
from .source import Kind, Source, load_sources

console = Console()
# Errors go to stderr, unwrapped, so scripts and logs get the whole message on one line.
errors = Console(stderr=True, soft_wrap=True)
app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


def collect_one(source: Source, settings: CollectSettings, accept_schema_change: bool) -> dict:
    """Fetch (with a progress line), record, and say what was done."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"{source.name}: starting", total=None)

        def progress(pages: int, rows: int) -> None:
            bar.update(task, description=f"{source.name}: {pages} pages, {rows:,} rows")

        run = collect(
            source, settings, notify=lambda line: bar.console.print(escape(line)), progress=progress
        )
    try:
        entry = Store(settings.collect_dir, source.name).record(run, accept_schema_change)
    except SchemaChanged:
        Partial(settings.collect_dir, source).remove()  # the snapshot holds every page
        raise
    Partial(settings.collect_dir, source).remove()
    for note in run.notes:
        console.print(f"  note: {escape(note)}")
    if run.more_pages:
        console.print(f"  note: stopped at MAX_PAGES={settings.max_pages}; the source has more")
    if entry["terms"] == TERMS_TODO:
        console.print(f"  note: say the source's licence or terms: TERMS=... ({source.name})")
    return entry | {"name": source.name, "run": run}


def summary(results: list[dict]) -> Table:
    table = Table(title="Collected", title_justify="left")
    for column in ("name", "pages", "rows", "new", "duplicates", "requests", "cached", "time"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for result in results:
        run = result["run"]
        table.add_row(
            result["name"],
            str(run.pages),
            f"{result['rows_fetched']:,}",
            f"{result['rows_new']:,}",
            f"{result['duplicates']:,}",
            str(run.requests),
            str(run.from_cache),
            f"{run.seconds:.1f}s",
        )
    return table


def one_source(
    source, name, kind, key_columns, records_key, table, page_param, offset_param, terms
) -> Source:
    if not name:
        raise CollectError("SOURCE= needs a NAME= too: the data set's name under data/collected/")
    try:
        return Source(
            name=name,
            url=source,
            kind=kind,
            records_key=records_key,
            table=table,
            page_param=page_param,
            offset_param=offset_param,
            terms=terms,
            key_columns=[c.strip() for c in key_columns.split(",") if c.strip()],
        )
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        raise CollectError(f"{problems} (SOURCE={source}, NAME={name})") from None


@app.command()
def main(
    source: Annotated[str | None, typer.Option(help="The address to collect from")] = None,
    name: Annotated[
        str | None, typer.Option(help="The data set's name under data/collected/")
    ] = None,
    kind: Annotated[Kind, typer.Option(help="What the source answers")] = "auto",
    key_columns: Annotated[str, typer.Option(help="Columns that identify a row, a,b")] = "",
    records_key: Annotated[str, typer.Option(help="JSON: the key of the list of records")] = "",
    table: Annotated[str, typer.Option(help="HTML: the table's index or header text")] = "",
    page_param: Annotated[str, typer.Option(help="Paginate by this page-number parameter")] = "",
    offset_param: Annotated[str, typer.Option(help="Paginate by this offset parameter")] = "",
    terms: Annotated[str, typer.Option(help="The source's licence or terms of use")] = "",
    accept_schema_change: Annotated[
        bool, typer.Option(help="Merge a snapshot whose columns changed")
    ] = False,
) -> None:
    results, failed = [], False
    try:
        settings = load_collect_settings()
        if source:
            options = (key_columns, records_key, table, page_param, offset_param, terms)
            sources = [one_source(source, name, kind, *options)]
        else:
            sources = load_sources(settings.collect_config)
    except (CollectError, SettingsProblem) as error:
        cli.say(str(error))
        raise typer.Exit(error.exit_code) from None
    for item in sources:
        try:
            results.append(collect_one(item, settings, accept_schema_change))
        except CollectError as error:  # said, and the next source is still collected
            cli.say(f"{item.name}: {error}")
            failed = True
        except KeyboardInterrupt:
            errors.print(
                f"Interrupted: {item.name}'s fetched pages are kept in "
                f"{Partial(settings.collect_dir, item).folder}; run the same command to resume."
            )
            raise typer.Exit(130) from None
    if results:
        console.print(summary(results))
    raise typer.Exit(2 if failed else 0)


if __name__ == "__main__":
    cli.run(app)
