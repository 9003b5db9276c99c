"""Policy authoring pages (thin): the policy editor (every save a new version with author and reason;
publishing by commission officers) and the policy sandbox (政策模拟) with charts and XLSX export.
Templates: ``templates/policy/editor_*.html`` and ``templates/policy/sandbox.html``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import exists, select

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, NotFound
from kechuang.core.i18n import N_, gettext
from kechuang.core.permissions import has
from kechuang.core.tabular import XLSX_MEDIA
from kechuang.policy import sandbox, versions
from kechuang.policy.version_models import PolicyVersion
from kechuang.registry import reference as ref
from kechuang.registry.models import Organisation
from kechuang.web.pageutil import field_errors, pages_router, redirect
from kechuang.web.templating import NavItem, district_label, register_nav, render

router = pages_router()
VersionReader = Annotated[Principal, Depends(requires(versions.READ_VERSIONS))]
Editor = Annotated[Principal, Depends(requires(versions.EDIT))]
Publisher = Annotated[Principal, Depends(requires(versions.PUBLISH))]
Simulator = Annotated[Principal, Depends(requires(sandbox.SANDBOX))]
register_nav(NavItem("policy-editor", N_("Policy editor"), "/policy/editor", versions.READ_VERSIONS, order=36))

SIZE_LABELS = {"large": N_("Large"), "medium": N_("Medium"), "small": N_("Small"), "micro": N_("Micro"),
               "": N_("Unknown")}
CHANGE_LABELS = {"gain": N_("Becomes eligible"), "loss": N_("No longer eligible"), "up": N_("Amount rises"),
                 "down": N_("Amount falls"), "unknown": N_("Becomes unknown")}
NEW_TEMPLATE = """id: new-policy-id
title: {zh: 新政策, en: New policy}
basis: {doc: 文号, url: "https://", status: unconfirmed}
valid: {from: 2026-01-01}
params:
  cap_fen: {2026-01-01: 10000000}
clauses:
  - id: registered_sh
    label: {zh: 注册地在上海, en: Registered in Shanghai}
    when: province = '上海'
amount: LEAST(ROUND(rd_expense_fen * 0.1), cap_fen)
tests:
  - {year: 2026, facts: {province: 上海, rd_expense_fen: 1000000}, eligible: true, amount_fen: 100000}
"""


def _editor_ctx(session, principal, key: str, shown: PolicyVersion | None = None, **extra: Any) -> dict:
    history = versions.versions_of(session, principal, key)
    shown = shown or history[0]
    validation = versions.validate(session, shown.yaml_text, versions.version_label(shown.policy_key, shown.version))
    return {"title": shown.title_zh, "active_nav": "policy-editor", "key": key, "history": history, "shown": shown,
            "validation": validation, "text": shown.yaml_text, "reason": "",
            "can_edit": has(principal, versions.EDIT), "can_publish": has(principal, versions.PUBLISH),
            "can_simulate": has(principal, sandbox.SANDBOX), **extra}


@router.get("/policy/editor")
def editor_index(request: Request, session: DbSession, principal: VersionReader):
    """Every policy with its latest and published version."""
    return render(request, "policy/editor_index.html", {
        "title": N_("Policy editor"), "active_nav": "policy-editor",
        "policies": versions.list_policies(session, principal), "can_edit": has(principal, versions.EDIT),
        "can_simulate": has(principal, sandbox.SANDBOX)}, principal=principal)


@router.get("/policy/editor/new")
def editor_new(request: Request, principal: Editor):
    """A form for a new policy (from a template)."""
    return render(request, "policy/editor_new.html", {"title": N_("New policy"), "active_nav": "policy-editor",
                                                      "text": NEW_TEMPLATE, "reason": ""}, principal=principal)


@router.post("/policy/editor/new")
def editor_create(request: Request, session: DbSession, principal: Editor, yaml_text: Annotated[str, Form()],
                  reason: Annotated[str, Form()] = ""):
    """Save the first version of a new policy."""
    try:
        v = versions.save_version(session, principal, yaml_text, reason)
    except AppError as exc:
        return render(request, "policy/editor_new.html", {
            "title": N_("New policy"), "active_nav": "policy-editor", "text": yaml_text, "reason": reason,
            "errors": field_errors(exc), "message": exc.render_message()}, status_code=exc.status_code,
            principal=principal)
    return redirect(f"/policy/editor/{v.policy_key}?saved={v.version}")


@router.get("/policy/editor/{key}")
def editor_page(request: Request, session: DbSession, principal: VersionReader, key: str,
                version: int | None = None, saved: int | None = None):
    """A policy's text (latest version, or ``?version=N``), its validation and its versions."""
    history = versions.versions_of(session, principal, key)
    shown = next((v for v in history if v.version == version), None) if version else history[0]
    if shown is None:
        raise NotFound()
    return render(request, "policy/editor.html", _editor_ctx(session, principal, key, shown, saved=saved),
                  principal=principal)


@router.post("/policy/editor/{key}")
def editor_save(request: Request, session: DbSession, principal: Editor, key: str,
                yaml_text: Annotated[str, Form()], reason: Annotated[str, Form()] = ""):
    """Save the text as a new version (errors shown at line:column)."""
    versions.versions_of(session, principal, key)  # 404 for an unknown policy
    try:
        v = versions.save_version(session, principal, yaml_text, reason, policy_key=key)
    except AppError as exc:
        ctx = _editor_ctx(session, principal, key, text=yaml_text, reason=reason, errors=field_errors(exc),
                          message=exc.render_message())
        return render(request, "policy/editor.html", ctx, status_code=exc.status_code, principal=principal)
    return redirect(f"/policy/editor/{key}?saved={v.version}")


@router.post("/policy/editor/versions/{version_id}/publish")
def editor_publish(request: Request, session: DbSession, principal: Publisher, version_id: int):
    """Put a version in force."""
    v = versions.access_version_by_id(session, principal, version_id)
    try:
        versions.publish(session, principal, version_id)
    except AppError as exc:
        ctx = _editor_ctx(session, principal, v.policy_key, v, errors=field_errors(exc), message=exc.render_message())
        return render(request, "policy/editor.html", ctx, status_code=exc.status_code, principal=principal)
    return redirect(f"/policy/editor/{v.policy_key}?version={v.version}")


# --------------------------------------------------------------------------- sandbox


def _chart(result: sandbox.SandboxResult) -> dict:
    def label(group: str, key: str) -> str:
        if group == "district":
            return district_label(key) if key else gettext("Unknown")
        if group == "industry_section":
            return (f"{key} {ref.INDUSTRY_SECTIONS[key][2]}" if key in ref.INDUSTRY_SECTIONS else
                    (key or gettext("Unknown")))
        return gettext(SIZE_LABELS.get(key, key))

    out = {"labels": {"base": gettext("In force"), "draft": gettext("Simulated"),
                      "count_axis": gettext("Eligible enterprises"), "money_axis": gettext("Amount (10k yuan)")}}
    for g, rows in result.groups.items():
        out[g] = {"categories": [label(g, r.key) for r in rows],
                  "base": [r.base_eligible for r in rows], "draft": [r.draft_eligible for r in rows],
                  "base_money": [round(r.base_fen / 1_000_000, 2) for r in rows],
                  "draft_money": [round(r.draft_fen / 1_000_000, 2) for r in rows]}
    return out


def _sandbox_ctx(session, principal, policy_key: str | None, **extra: Any) -> dict:
    published = versions.published_versions(session)
    chosen = next((v for v in published if v.policy_key == policy_key), None)
    params = []
    if chosen is not None:
        pol = versions.parse_version(chosen)
        for name, p in sorted(pol.params.items()):
            if p.kind == "number":
                params.append({"name": name, "value": p.values[-1][1], "since": p.values[-1][0], "type": p.type,
                               "status": p.status, "note": p.note})
    return {"title": N_("Policy sandbox"), "active_nav": "policy-editor", "published": published, "chosen": chosen,
            "params": params, "values": {}, "mode": "params", "text": "", "size_labels": SIZE_LABELS,
            "change_labels": CHANGE_LABELS, **extra}


@router.get("/policy/sandbox")
def sandbox_page(request: Request, session: DbSession, principal: Simulator, policy: str | None = None,
                 version: int | None = None, mode: str = "params"):
    """Choose a policy in force and change its parameters, or paste a draft (``?version=`` loads a stored one)."""
    ctx = _sandbox_ctx(session, principal, policy)
    if mode == "draft":
        ctx.update(mode="draft", chosen=None)
    if version is not None:
        v = versions.access_version_by_id(session, principal, version)
        ctx.update(mode="draft", text=v.yaml_text)
    return render(request, "policy/sandbox.html", ctx, principal=principal)


async def _form_params(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k[6:]: str(v) for k, v in form.items() if k.startswith("param.")}


@router.post("/policy/sandbox")
def sandbox_run(request: Request, session: DbSession, principal: Simulator,
                params: Annotated[dict[str, str], Depends(_form_params)],
                mode: Annotated[str, Form()] = "params", policy: Annotated[str, Form()] = "",
                yaml_text: Annotated[str, Form()] = "", export: Annotated[str, Form()] = ""):
    """Run the simulation and show it (or download it as XLSX)."""
    kw: dict[str, Any] = {"yaml_text": yaml_text} if mode == "draft" else {"policy_key": policy or None,
                                                                           "overrides": params}
    ctx = _sandbox_ctx(session, principal, policy or None, mode=mode, text=yaml_text,
                       values={f"param.{k}": v for k, v in params.items()})
    try:
        result = sandbox.simulate(session, principal, **kw)
    except AppError as exc:
        ctx.update(errors=field_errors(exc), message=exc.render_message())
        return render(request, "policy/sandbox.html", ctx, status_code=exc.status_code, principal=principal)
    if export:
        return Response(sandbox.to_xlsx(result), media_type=XLSX_MEDIA,
                        headers={"Content-Disposition": f'attachment; filename="sandbox-{result.policy.id}.xlsx"'})
    synthetic = session.scalar(select(exists().where(Organisation.is_synthetic.is_(True))))
    ctx.update(result=result, chart=_chart(result), synthetic=bool(synthetic))
    return render(request, "policy/sandbox.html", ctx, principal=principal)
