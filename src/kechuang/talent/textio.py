"""Plain text from an uploaded rule document: .txt/.md (UTF-8 or GB18030), .docx (python-docx) or .pdf
with a text layer (pypdf). Finding offsets refer to the text this returns."""

from __future__ import annotations

import io
from pathlib import Path


class UnreadableDocument(Exception):
    """The document cannot be turned into text (wrong type, no text layer, bad encoding)."""


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument("text is neither UTF-8 nor GB18030")


def _docx_text(data: bytes) -> str:
    import docx  # python-docx; imported lazily (only uploads need it)

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for bad files
        raise UnreadableDocument(f"not a readable DOCX file: {exc}") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as exc:
        raise UnreadableDocument(f"not a readable PDF file: {exc}") from exc
    if not text.strip():
        raise UnreadableDocument("the PDF has no text layer (scanned images are not read)")
    return text


def document_text(data: bytes, filename: str) -> str:
    """The text of a document given its bytes and file name (the suffix decides the reader)."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".docx":
        return _docx_text(data)
    if suffix == ".pdf":
        return _pdf_text(data)
    if suffix in ("", ".txt", ".md", ".text"):
        return _decode(data)
    raise UnreadableDocument(f"unsupported document type {suffix!r}: use .txt, .docx or .pdf")


def read_document(path: Path | str) -> str:
    """The text of a document file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read {p}: {exc}") from exc
    return document_text(data, p.name)
