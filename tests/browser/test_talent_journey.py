"""Talent evaluation in a real browser (demo data with the talent journey log-ins from ``talent.pilot_demo``):
a university officer designs a basic-research scheme and sees it refused while it scores talent titles, fixes
it and puts it in force; a candidate files a dossier linking a transferred result found by search; two
reviewers score blind (no name, no unit on their pages); the officer computes calibrated results, decides and
publishes; the candidate appeals and the officer decides the appeal. Screenshots at 1280 px and 390 px."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser

CANDIDATE = "林思远（演示）"


def _page(chromium, live_server, *, phone: bool = False):
    if phone:
        context = chromium.new_context(viewport={"width": 390, "height": 844}, base_url=live_server, locale="zh-CN",
                                       device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)  # the shared CI machine is slow under load
    return context, page


def _fill_indicator(page, i: int, iid: str, label: str, basis: str, weight: str) -> None:
    page.locator(f"input[name='ind_id_{i}']").fill(iid)
    page.locator(f"input[name='ind_label_zh_{i}']").fill(label)
    page.locator(f"select[name='ind_basis_{i}']").select_option(basis)
    page.locator(f"input[name='ind_weight_{i}']").fill(weight)


def test_scheme_refused_then_evaluation_with_blind_review_and_appeal(chromium, live_server):
    officer_ctx, officer = _page(chromium, live_server)
    log_in(officer, "demo_tto")
    officer.goto("/talent")
    officer.get_by_role("link", name="方案设计器").click()
    officer.wait_for_url("**/talent/schemes/new")
    officer.locator("#f-scheme_key").fill("journey-basic-research")
    officer.locator("#f-title_zh").fill("基础研究类人才评价方案（浏览器测试）")
    officer.locator("#f-rw_min").fill("1")
    officer.locator("#f-rw_max").fill("3")
    officer.locator("input[name='rw_types'][value='transferred_result']").check()
    for basis in ("talent_title", "paper_count", "impact_factor"):
        officer.locator(f"input[name='must_not_use'][value='{basis}']").check()
    _fill_indicator(officer, 0, "original", "代表作原创价值", "representative_work", "0.6")
    _fill_indicator(officer, 1, "hat", "人才称号", "talent_title", "0.4")
    # Live feedback: the scored talent title breaks the framework, with the reason and its basis.
    officer.wait_for_selector("#feedback [data-rule='no-talent-title']")
    feedback = officer.locator("#feedback").inner_text()
    assert "不得将人才称号" in feedback and "国科发才〔2022〕255号" in feedback
    shot(officer, "talent-01-designer-live-feedback")
    officer.get_by_role("button", name="保存为新版本").click()
    alert = officer.locator(".alert-error")
    assert "方案未保存" in alert.inner_text()
    assert officer.locator("#feedback [data-rule='no-talent-title']").count() == 1
    shot(officer, "talent-02-designer-refused")
    # Fixed: the second indicator now measures development potential.
    officer.locator("select[name='ind_basis_1']").select_option("potential")
    officer.locator("input[name='ind_id_1']").fill("potential")
    officer.locator("input[name='ind_label_zh_1']").fill("发展潜力")
    officer.wait_for_selector("#feedback [data-compliant='true']")
    officer.get_by_role("button", name="保存为新版本").click()
    officer.wait_for_url(re.compile(r"/talent/schemes/\d+"))
    scheme_id = int(re.search(r"/talent/schemes/(\d+)", officer.url).group(1))
    assert "符合评价框架" in officer.locator(".flashes").inner_text()
    officer.get_by_role("button", name="施行").click()
    officer.wait_for_url(re.compile(rf"/talent/schemes/{scheme_id}$"))
    shot(officer, "talent-03-scheme-in-force")

    officer.goto("/talent/evaluations")
    officer.locator("#f-scheme_id").select_option(str(scheme_id))
    officer.locator("#f-round_label").fill("2026-浏览器")
    officer.locator("#f-reviewers_per_dossier").fill("2")
    officer.get_by_role("button", name="开启批次").click()
    officer.wait_for_url(re.compile(r"/talent/evaluations/\d+$"))
    ev_url = officer.url
    unit = officer.locator(".page-head .subtitle").inner_text().split(" · ")[0].strip()
    assert unit

    cand_ctx, cand = _page(chromium, live_server)
    log_in(cand, "talent_candidate")
    cand.goto(ev_url)
    cand.get_by_role("link", name="开始我的申报").click()
    cand.locator("#f-field").fill("0702")
    cand.locator("#f-plan").fill("未来三年围绕低功耗传感芯片开展产业化研究。")
    cand.locator("#f-contribution").fill("项目负责人，提出芯片架构")
    cand.get_by_role("button", name="创建申报材料").click()
    cand.wait_for_url(re.compile(r"/talent/dossiers/\d+$"))
    dossier_url = cand.url
    # Search the candidate's own transfer records and link the licensed patent.
    with cand.expect_response(lambda r: "/talent/records/search" in r.url and "q=%E4%BC%A0" in r.url):
        cand.locator("#f-q").fill("传感芯片")
    cand.wait_for_timeout(300)  # htmx swaps the results after the response
    choice = cand.locator("input[name='ref_pick']").first
    choice.wait_for()
    choice.check()
    assert choice.is_checked()
    cand.locator("#f-contribution_statement").fill("本人为专利第一发明人，主导了该芯片制备方法的研发及许可转化。")
    shot(cand, "talent-04-dossier-link-record")
    cand.get_by_role("button", name="添加代表作").click()
    cand.wait_for_url(re.compile(r"/talent/dossiers/\d+\?done=work"))
    assert "已核验" in cand.locator("#h-works + .table-wrap").inner_text()
    cand.get_by_role("button", name="提交申报材料").click()
    cand.wait_for_url(re.compile(r"\?done=submitted"))
    shot(cand, "talent-05-dossier-submitted")

    officer.goto(ev_url)
    officer.get_by_role("button", name="截止申报并抽取评审专家").click()
    officer.wait_for_url(re.compile(r"\?done=draw"))

    for k, login in enumerate(("talent_reviewer_a", "talent_reviewer_b")):
        ctx, rev = _page(chromium, live_server)
        log_in(rev, login)
        rev.goto("/talent/reviews")
        rows = rev.locator("tbody tr", has_text="2026-浏览器")
        assert rows.count() == 1, rev.content()
        rows.first.locator("a").first.click()
        rev.wait_for_url(re.compile(r"/talent/reviews/\d+$"))
        html = rev.content()
        assert CANDIDATE not in html and unit not in html and "Lin Siyuan" not in html
        assert "匿名评审" in html
        for field in rev.locator("input[name^='score.']").all():
            field.fill(str(85 - 15 * k))
        rev.locator("#f-comment").fill("代表作转化成效明显。")
        if k == 0:
            shot(rev, "talent-06-blind-workbench")
        rev.get_by_role("button", name="保存评分").click()
        rev.wait_for_url(re.compile(r"\?done=scored"))
        assert CANDIDATE not in rev.content()
        ctx.close()

    officer.goto(ev_url)
    officer.get_by_role("button", name="计算校准结果").click()
    officer.wait_for_url(re.compile(r"\?done=results"))
    row = officer.locator("tr", has_text=CANDIDATE)
    row.locator("select[name='outcome']").select_option("pass")
    row.locator("textarea[name='reasons']").fill("代表作经平台记录核验，许可收益明确，评为合格。")
    row.get_by_role("button", name="记录专家组结论").click()
    officer.wait_for_url(re.compile(r"\?done=decision"))
    officer.get_by_role("button", name="公布结果").click()
    officer.wait_for_url(re.compile(r"\?done=publish"))
    shot(officer, "talent-07-results-published")

    cand.goto(dossier_url)
    assert "专家组结论：合格" in cand.locator(".result").inner_text()
    cand.locator("#f-grounds").fill("许可收益之外尚有后续产业化合同，请专家组复核。")
    cand.get_by_role("button", name="提出申诉").click()
    cand.wait_for_url(re.compile(r"\?done=appealed"))
    assert "已提交" in cand.locator(".appeal").inner_text()
    shot(cand, "talent-08-appeal-filed")

    officer.goto(ev_url)
    row = officer.locator("tr", has_text=CANDIDATE)
    row.locator("select[name='status']").select_option("upheld")
    row.locator("select[name='new_outcome']").select_option("excellent")
    row.locator("textarea[name='outcome_reason']").fill("复核后认定产业化成效突出，改为优秀。")
    row.get_by_role("button", name="处理申诉").click()
    officer.wait_for_url(re.compile(r"\?done=appeal"))
    cand.goto(dossier_url)
    assert "复核后认定产业化成效突出" in cand.locator(".result").inner_text()
    cand_ctx.close()

    # The commission's dashboard: the unit's figures link to their records.
    com_ctx, com = _page(chromium, live_server)
    log_in(com, "demo_commission")
    com.goto("/talent/dashboard")
    assert unit in com.locator(".units-table").inner_text()
    shot(com, "talent-09-dashboard")
    com.locator(".units-table a[href*='/talent/findings']").first.click()
    com.wait_for_url(re.compile(r"/talent/findings\?"))
    com.goto("/talent/schemes/compare")
    assert com.locator("table.compare th[scope='col']").count() >= 3
    shot(com, "talent-10-pilot-compare")
    com_ctx.close()
    officer_ctx.close()


def test_audit_and_designer_on_a_phone(chromium, live_server):
    context, page = _page(chromium, live_server, phone=True)
    log_in(page, "demo_commission")
    page.goto("/talent/audits")
    page.locator("table a[href^='/talent/audits/']").first.click()
    page.wait_for_selector("mark.clause")
    assert page.locator(".finding").count() >= 3
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, width
    shot(page, "talent-11-audit-phone")
    context.close()
    context, page = _page(chromium, live_server, phone=True)
    log_in(page, "demo_tto")
    page.goto("/talent/schemes/new")
    page.locator("select[name='ind_basis_0']").select_option("paper_count")
    page.locator("input[name='ind_weight_0']").fill("1")
    page.wait_for_selector("#feedback [data-rule='no-paper-count-kpi-basic']")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, width
    shot(page, "talent-12-designer-phone")
    context.close()
    # English: labels, framework reasons and the basis in the user's language.
    context, page = _page(chromium, live_server)
    log_in(page, "demo_tto")
    page.goto("/lang/en?next=/talent/schemes/new")
    page.wait_for_url("**/talent/schemes/new")
    page.locator("select[name='ind_basis_0']").select_option("talent_title")
    page.locator("input[name='ind_weight_0']").fill("1")
    page.wait_for_selector("#feedback [data-rule='no-talent-title']")
    text = page.locator("#feedback").inner_text()
    assert "Talent titles" in text and "must not be used" in text and "Not compliant" in text
    shot(page, "talent-13-designer-en")
    context.close()
