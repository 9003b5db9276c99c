"""The facts schema: every fact a policy expression may name, with its type and zh/en label.

Pure module (no database). Types:
  ``int_fen``  money in integer fen (1 yuan = 100 fen), never a float;
  ``int``      a count (employees, a score);
  ``decimal``  a measured share or ratio (0..1), held as a double — never multiplied into money;
  ``bool``, ``str``, ``date``.
Derived facts are expressions over other facts, expanded where they are used (so both backends and
explanations see the same definition). ``fact@-N`` names the same fact N years earlier; in a facts
table it is the column ``fact__mN``.
"""

from __future__ import annotations

from dataclasses import dataclass

FACT_TYPES = ("int_fen", "int", "decimal", "bool", "str", "date")


@dataclass(frozen=True)
class Fact:
    """One declared fact: name, type, labels, how to show it, and (if derived) its definition."""

    name: str
    type: str
    zh: str
    en: str
    fmt: str = ""  # "percent" for shares; "" = by type
    derived: str | None = None  # expression over other facts
    source: str = ""  # where the registry takes it from


def _f(name: str, type_: str, zh: str, en: str, **kw: str) -> Fact:
    return Fact(name, type_, zh, en, **kw)


_FACTS = [
    # Yearly facts of the registry (registry.models.OrganisationFact).
    _f("revenue_fen", "int_fen", "营业收入", "Revenue", source="organisation_fact"),
    _f("rd_expense_fen", "int_fen", "研发费用", "R&D expense", source="organisation_fact"),
    _f("rd_domestic_share", "decimal", "境内研发费用占比", "Share of R&D spent in China", fmt="percent",
       source="organisation_fact"),
    _f("employees", "int", "职工总数", "Employees", source="organisation_fact"),
    _f("st_staff", "int", "科技人员数", "S&T staff", source="organisation_fact"),
    _f("high_tech_income_fen", "int_fen", "高新技术产品(服务)收入", "High-tech product and service income",
       source="organisation_fact"),
    _f("total_assets_fen", "int_fen", "资产总额", "Total assets", source="organisation_fact"),
    _f("profit_fen", "int_fen", "利润总额", "Profit", source="organisation_fact"),
    _f("tax_credit_grade", "str", "纳税信用等级", "Tax credit grade", source="organisation_fact"),
    _f("serious_dishonesty", "bool", "列入严重失信主体名单", "On the serious-dishonesty list",
       source="organisation_fact"),
    _f("major_incident", "bool", "发生重大安全、质量事故或严重环境违法", "Major safety, quality or environmental incident",
       source="organisation_fact"),
    # Organisation attributes (registry.models.Organisation).
    _f("province", "str", "注册地省份", "Province of registration", source="organisation"),
    _f("district", "str", "所在区", "District", source="organisation"),
    _f("industry_section", "str", "国民经济行业门类", "Industry section (GB/T 4754)", source="organisation"),
    _f("founded_date", "date", "成立日期", "Date founded", source="organisation"),
    _f("age_years", "int", "注册满年数", "Full years since registration", source="organisation"),
    _f("ownership", "str", "所有制", "Ownership", source="organisation"),
    # Qualifications valid in the facts year (registry.models.Qualification).
    _f("has_high_tech", "bool", "有效期内高新技术企业", "Valid high-tech enterprise", source="qualification"),
    _f("has_tech_sme", "bool", "科技型中小企业", "Tech-based SME", source="qualification"),
    _f("has_specialised", "bool", "专精特新中小企业", "Specialised and innovative SME", source="qualification"),
    _f("has_foreign_rd_centre", "bool", "外资研发中心", "Foreign-invested R&D centre", source="qualification"),
    _f("has_new_rd_institution", "bool", "新型研发机构", "New-type R&D institution", source="qualification"),
    _f("has_provincial_rd_institution", "bool", "省级以上研发机构", "Provincial-level R&D institution",
       source="qualification"),
    # Inputs specific to some policies (from programme data: banks, vouchers, contracts, evaluations).
    _f("loan_product", "str", "贷款产品", "Loan product", source="bank"),
    _f("loan_repayment_date", "date", "贷款到期还款日", "Loan repayment due date", source="bank"),
    _f("premium_paid_fen", "int_fen", "已缴保费", "Insurance premium paid", source="bank"),
    _f("compute_rent_fen", "int_fen", "算力租赁费用", "Compute rent paid", source="voucher"),
    _f("compute_build_cost_fen", "int_fen", "自建算力建设投入", "Self-built compute construction cost",
       source="voucher"),
    _f("model_contract_fen", "int_fen", "模型服务合同金额", "Model service contract amount", source="voucher"),
    _f("corpus_contract_fen", "int_fen", "语料采购合同金额", "Corpus purchase contract amount", source="voucher"),
    _f("contract_amount_fen", "int_fen", "技术服务合同金额", "Technology service contract amount", source="voucher"),
    _f("voucher_used_fen", "int_fen", "本年度已使用创新券", "Innovation voucher used this year", source="voucher"),
    _f("tech_transfer_income_fen", "int_fen", "技术转让所得", "Technology transfer income", source="transfer"),
    _f("tech_transfer_registered", "bool", "技术合同已认定登记", "Technology contract registered",
       source="transfer"),
    _f("tech_transfer_related_100", "bool", "与100%关联方之间的转让", "Transfer between 100%-related parties",
       source="transfer"),
    _f("ip_in_listed_field", "bool", "核心知识产权属于重点支持领域", "Core IP in a supported high-tech field",
       source="evaluation"),
    _f("high_tech_score", "int", "高企认定综合评分", "High-tech evaluation score", source="evaluation"),
    _f("tech_sme_score", "int", "科技型中小企业评价得分", "Tech-SME evaluation score", source="evaluation"),
    _f("st_staff_score", "int", "科技人员指标得分", "S&T staff indicator score", source="evaluation"),
    _f("top3_award_5y", "bool", "近五年获省级以上科技奖励前三名", "Top-3 provincial S&T award in 5 years",
       source="evaluation"),
    _f("led_standard_5y", "bool", "近五年主导制定标准", "Led a national or industry standard in 5 years",
       source="evaluation"),
    _f("invention_patents", "int", "有效发明专利数", "Valid invention patents", source="patent"),
    _f("rd_staff", "int", "研发人员数", "R&D staff", source="organisation_fact"),
    _f("is_ai_enterprise", "bool", "人工智能应用企业", "AI application enterprise", source="evaluation"),
    # Derived facts (expanded where used).
    _f("rd_intensity", "decimal", "研发投入强度", "R&D intensity", fmt="percent",
       derived="rd_expense_fen / revenue_fen"),
    _f("rd_intensity_3y", "decimal", "近三年研发费用占销售收入比例", "3-year R&D expense to revenue", fmt="percent",
       derived="(rd_expense_fen + rd_expense_fen@-1 + rd_expense_fen@-2)"
               " / (revenue_fen + revenue_fen@-1 + revenue_fen@-2)"),
    _f("st_staff_share", "decimal", "科技人员占比", "S&T staff share", fmt="percent",
       derived="st_staff / employees"),
    _f("rd_staff_share", "decimal", "研发人员占比", "R&D staff share", fmt="percent", derived="rd_staff / employees"),
    _f("high_tech_income_share", "decimal", "高新技术产品(服务)收入占比", "High-tech income share", fmt="percent",
       derived="high_tech_income_fen / revenue_fen"),
    _f("revenue_growth", "decimal", "营业收入增长率", "Revenue growth", fmt="percent",
       derived="(revenue_fen - revenue_fen@-1) / revenue_fen@-1"),
]

FACTS: dict[str, Fact] = {f.name: f for f in _FACTS}

# How many earlier years a lag may reach (fact@-1 .. fact@-MAX_LAG).
MAX_LAG = 5


def lag_column(name: str, lag: int) -> str:
    """Column name of ``name`` ``lag`` years earlier: ``rd_expense_fen@-1`` → ``rd_expense_fen__m1``."""
    return name if lag == 0 else f"{name}__m{lag}"


def split_column(column: str) -> tuple[str, int]:
    """Inverse of :func:`lag_column`."""
    base, sep, lag = column.rpartition("__m")
    if sep and lag.isdigit() and base in FACTS:
        return base, int(lag)
    return column, 0
