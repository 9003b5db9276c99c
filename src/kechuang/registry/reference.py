"""Controlled vocabularies of the registry: kinds, Shanghai's 16 districts, GB/T 4754-2017 sections,
ownership, qualifications, relations, tax credit grades, person roles, talent categories."""

from __future__ import annotations

from kechuang.core.i18n import N_

ORG_KINDS: dict[str, str] = {
    "enterprise": N_("Enterprise"),
    "university": N_("University"),
    "research_institute": N_("Research institute"),
    "new_rd_institution": N_("New-type R&D institution"),  # 新型研发机构
    "hospital": N_("Hospital"),
    "service_provider": N_("Service provider"),
    "investor": N_("Investor"),
    "government": N_("Government unit"),
}
INSTITUTION_KINDS = frozenset({"university", "research_institute", "new_rd_institution", "hospital"})

# Shanghai's 16 districts with their administrative division codes (GB/T 2260).
DISTRICTS: dict[str, str] = {
    "黄浦区": "310101", "徐汇区": "310104", "长宁区": "310105", "静安区": "310106",
    "普陀区": "310107", "虹口区": "310109", "杨浦区": "310110", "闵行区": "310112",
    "宝山区": "310113", "嘉定区": "310114", "浦东新区": "310115", "金山区": "310116",
    "松江区": "310117", "青浦区": "310118", "奉贤区": "310120", "崇明区": "310151",
}
DISTRICT_EN: dict[str, str] = {
    "黄浦区": "Huangpu", "徐汇区": "Xuhui", "长宁区": "Changning", "静安区": "Jing'an",
    "普陀区": "Putuo", "虹口区": "Hongkou", "杨浦区": "Yangpu", "闵行区": "Minhang",
    "宝山区": "Baoshan", "嘉定区": "Jiading", "浦东新区": "Pudong New Area", "金山区": "Jinshan",
    "松江区": "Songjiang", "青浦区": "Qingpu", "奉贤区": "Fengxian", "崇明区": "Chongming",
}

# GB/T 4754-2017 sections with their division ranges (inclusive) and names.
INDUSTRY_SECTIONS: dict[str, tuple[int, int, str, str]] = {
    "A": (1, 5, "农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    "B": (6, 12, "采矿业", "Mining"),
    "C": (13, 43, "制造业", "Manufacturing"),
    "D": (44, 46, "电力、热力、燃气及水生产和供应业", "Electricity, heat, gas and water supply"),
    "E": (47, 50, "建筑业", "Construction"),
    "F": (51, 52, "批发和零售业", "Wholesale and retail trade"),
    "G": (53, 60, "交通运输、仓储和邮政业", "Transport, storage and post"),
    "H": (61, 62, "住宿和餐饮业", "Accommodation and catering"),
    "I": (63, 65, "信息传输、软件和信息技术服务业", "Information transmission, software and IT services"),
    "J": (66, 69, "金融业", "Finance"),
    "K": (70, 70, "房地产业", "Real estate"),
    "L": (71, 72, "租赁和商务服务业", "Leasing and business services"),
    "M": (73, 75, "科学研究和技术服务业", "Scientific research and technical services"),
    "N": (76, 79, "水利、环境和公共设施管理业", "Water, environment and public facilities management"),
    "O": (80, 82, "居民服务、修理和其他服务业", "Resident, repair and other services"),
    "P": (83, 83, "教育", "Education"),
    "Q": (84, 85, "卫生和社会工作", "Health and social work"),
    "R": (86, 90, "文化、体育和娱乐业", "Culture, sports and entertainment"),
    "S": (91, 96, "公共管理、社会保障和社会组织", "Public administration, social security and organisations"),
    "T": (97, 97, "国际组织", "International organisations"),
}

OWNERSHIP: dict[str, str] = {
    "state_owned": N_("State-owned"),
    "private": N_("Private"),
    "foreign_invested": N_("Foreign-invested"),
    "mixed": N_("Mixed ownership"),
}
STATE_LEVELS: dict[str, str] = {
    "central": N_("Central"), "municipal": N_("Municipal"), "district": N_("District"),
}
QUALIFICATION_KINDS: dict[str, str] = {
    "high_tech": N_("High-tech enterprise"),  # 高新技术企业
    "tech_sme": N_("Tech-based SME"),  # 科技型中小企业
    "specialised": N_("Specialised, refined, distinctive and novel SME"),  # 专精特新
    "foreign_rd_centre": N_("Foreign-invested R&D centre"),  # 外资研发中心
    "new_rd_institution": N_("New-type R&D institution"),  # 新型研发机构
}
RELATION_KINDS: dict[str, str] = {
    "shareholder": N_("Shareholder"),
    "legal_representative": N_("Legal representative"),
    "parent": N_("Parent organisation"),
}
TAX_CREDIT_GRADES = ("A", "B", "M", "C", "D")
PERSON_ROLES: dict[str, str] = {
    "researcher": N_("Researcher"),
    "expert": N_("Expert"),
    "entrepreneur": N_("Entrepreneur"),
    "officer": N_("Officer"),
}
TALENT_CATEGORIES: dict[str, str] = {
    "basic_research": N_("Basic research"),  # 基础研究类
    "applied_rd": N_("Applied R&D"),  # 应用研发类
    "tech_service": N_("Technology services"),  # 科技服务类
    "public_welfare": N_("Public-welfare research"),  # 社会公益研究类
}
