"""The 尽职免责 dossier as a PDF (reportlab, A4). Chinese text uses the Adobe CID font STSong-Light, which
reportlab ships as metrics only: no font file is bundled or embedded, PDF viewers supply the glyphs (as
they do for any non-embedded CJK standard font)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from kechuang.core.i18n import gettext, ngettext
from kechuang.transfer import dossier as dossier_mod
from kechuang.transfer.service import TRANSFER_MODES
from kechuang.web.templating import format_datetime, format_money, org_name

FONT = "STSong-Light"
COLOURS = {dossier_mod.MET: "#1a7f37", dossier_mod.MISSING: "#b42318", dossier_mod.NOT_REQUIRED: "#57606a"}


def to_pdf(d: dossier_mod.Dossier, detail: Callable[[str, dict[str, Any]], str]) -> bytes:
    """The dossier ``d`` as PDF bytes in the current language."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import KeepTogether

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10.5, textColor=colors.HexColor("#57606a"))
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=21, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=base, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3)
    t = d.transfer

    def p(text: Any, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    story: list[Any] = [p(gettext("kechuang — Shanghai science and technology innovation platform"), small),
                        p(gettext("Due-diligence dossier of transfer {id}", id=t.id), h1)]
    if t.is_synthetic:
        story.append(p(gettext("Synthetic demo data"), small))
    facts = [
        (gettext("Result"), f"{d.achievement.title} {d.achievement.number or ''}"),
        (gettext("Institution"), org_name(d.institution) if d.institution else "—"),
        (gettext("Mode"), gettext(TRANSFER_MODES.get(t.mode, t.mode))),
        (gettext("Counterparty"), org_name(d.counterparty) if d.counterparty else "—"),
        (gettext("Price"), format_money(t.price_fen)),
        (gettext("Generated"), format_datetime(d.generated_at)),
    ]
    table = Table([[p(k, small), p(v)] for k, v in facts], colWidths=[28 * mm, 142 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    story += [table, Spacer(1, 4 * mm)]
    verdict = (gettext("All conditions of due-diligence exemption are met.") if d.complete else
               ngettext("{num} condition is missing.", "{num} conditions are missing.", len(d.missing)))
    story.append(p(verdict, ParagraphStyle("verdict", parent=h2, textColor=colors.HexColor(
        COLOURS[dossier_mod.MET if d.complete else dossier_mod.MISSING]))))
    for n, c in enumerate(d.conditions, 1):
        status = gettext(dossier_mod.STATUS_LABELS[c.status])
        block: list[Any] = [Paragraph(f'{n}. {escape(gettext(c.label))} <font color="{COLOURS[c.status]}">'
                                      f'[{escape(status)}]</font>', h2)]
        block += [p("· " + detail(text, params_)) for text, params_ in c.details]
        if c.evidence:
            rows = [[p(gettext("Recorded at"), small), p(gettext("By"), small), p(gettext("Action"), small),
                     p(gettext("Audit entry"), small)]]
            for e in c.evidence:
                values = "; ".join(f"{k}={v}" for k, v in e.values.items())
                rows.append([p(format_datetime(e.at), small), p(f"{e.actor} ({e.role})", small),
                             Paragraph(f"{escape(e.action)}<br/>{escape(values)}", small),
                             p(f"#{e.entry_id} {e.hash[:16]}…", small)])
            ev = Table(rows, colWidths=[32 * mm, 32 * mm, 76 * mm, 30 * mm], repeatRows=1)
            ev.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#d0d7de")),
                                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa")),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            block += [Spacer(1, 1.5 * mm), ev]
        story.append(KeepTogether(block))
    story += [Spacer(1, 4 * mm), p(gettext(
        "Basis: 国发〔2016〕16号 (十); 国科发区〔2020〕128号; 沪科规〔2023〕9号. Each evidence item is an entry of the "
        "hash-chained audit log."), small)]
    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=gettext("Due-diligence dossier of transfer {id}", id=t.id),
                            author="kechuang")
    doc.build(story)
    return out.getvalue()
