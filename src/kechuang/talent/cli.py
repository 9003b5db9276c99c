"""``kechuang talent scheme check FILE`` and ``kechuang talent audit-rules FILE [--format json]`` — stable
CLI contracts (used by checks outside the test suite). Neither needs a database."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kechuang.talent import audit, scheme
from kechuang.talent.textio import UnreadableDocument, read_document

app = typer.Typer(help="Talent evaluation (人才分类评价): schemes and the rule-text audit.", no_args_is_help=True)
scheme_app = typer.Typer(help="Evaluation schemes: check against the framework and its negative list.",
                         no_args_is_help=True)
app.add_typer(scheme_app, name="scheme")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@scheme_app.command("check")
def scheme_check_cmd(file: Path = typer.Argument(..., help="Scheme file (YAML).")):
    """Print "compliant" (exit 0), or each broken rule id with its reason (exit 1)."""
    violations = scheme.check_file(file)
    if not violations:
        console.print("compliant")
        return
    for v in violations:
        console.print(str(v), markup=False)
    raise typer.Exit(1)


@scheme_app.command("compare")
def scheme_compare_cmd(
    files: list[Path] = typer.Argument(..., help="Scheme files (YAML) to compare side by side."),
    format: str = typer.Option("table", "--format", help="table (default) or json."),
):
    """Compare schemes side by side (e.g. the pilot units' own standards): cycle, methods, weights, rules."""
    try:
        schemes = [scheme.load_scheme(f) for f in files]
    except scheme.SchemeError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False)
        raise typer.Exit(2) from exc
    rows = scheme.compare_schemes(schemes)
    if format == "json":
        typer.echo(json.dumps({"schemes": [s.id for s in schemes], "rows": rows}, ensure_ascii=False, indent=2))
        return
    table = Table(show_lines=False)
    table.add_column("")
    for s in schemes:
        table.add_column(f"{s.id} v{s.version}")
    for row in rows:
        table.add_row(row["attribute"], *[str(v) for v in row["values"]])
    console.print(table)


@app.command("audit-rules")
def audit_rules_cmd(
    file: Path = typer.Argument(..., help="Rule text: .txt (UTF-8/GB18030), .docx or .pdf with a text layer."),
    format: str = typer.Option("json", "--format", help="json (default) or text."),
):
    """Clauses that link pay, titles, promotion, projects, resources or awards to talent titles or counts."""
    if format not in ("json", "text"):
        err.print("--format must be json or text")
        raise typer.Exit(2)
    try:
        text = read_document(file)
    except UnreadableDocument as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    findings = audit.audit_text(text)
    if format == "json":
        typer.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2))
        return
    for f in findings:
        console.print(f"{f.start}-{f.end} {f.link} ← {f.basis}: {f.clause}\n  {f.reason}", markup=False)
    console.print(f"{len(findings)} findings", markup=False)
