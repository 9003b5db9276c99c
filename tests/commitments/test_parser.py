"""The seed letter 沪科提复〔2025〕56号 must be recognised: metadata, sections, every 下一步 commitment and
the reported figures with their units."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kechuang.commitments.parser import paragraphs, parse_reply

SEED = Path(__file__).resolve().parents[2] / "src" / "kechuang" / "commitments" / "seed" / "hukeitifu-2025-56.txt"
SHARED_SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_325ee26d1ca9221c.txt"

# Every 下一步 commitment of the letter, by the start of its exact phrase, in letter order.
EXPECTED_PHRASES = [
    "我委将全面落实“人工智能+”战略",
    "聚焦科学智能高质量数据集建设",
    "坚持企业为主体、产品为导向",
    "着眼培育壮大企业科技创新主体",
    "建立企业深度参与全市科技战略决策咨询机制",
    "紧扣产业需求，完善定向委托",
    "对应用导向研究、关键核心技术攻关和未来产业创新项目",
    "出台相关支持政策，鼓励企业加大研发创新投入",
    "坚持强主体、补链条、改机制",
    "强化需求牵引，开发发布应用场景",
    "加强重点领域科技服务人才培养",
    "完善进出口研发、检验检测用仪器设备",
    "配合市国资委，持续完善源头技术供给",
    "加快研究研发准备金制度",
    "鼓励、引导国有企业聚焦主业",
    "发挥三大产业先导基金和未来产业基金等国资基金作用",
    "联合市人才局、市教委等，以“揭榜挂帅”方式继续推动科技人才评价“立新标”改革试点",
    "配合市人才局，推动教育评价、科技评价、人才评价改革联动",
    "配合市教委，结合新工科、新兴学科和新质生产力发展要求",
    "加快科技成果转化全部赋权改革复制推广",
    "会同市教委，加快健全基础研究成果转化全链条推进机制",
    "联合市人才局、市教委、市国资委等，进一步加大对创新人才股权、期权、分红激励",
]


@pytest.fixture(scope="module")
def parsed():
    return parse_reply(SEED.read_text(encoding="utf-8"))


def test_vendored_seed_is_the_shared_letter():
    if SHARED_SEED.exists():
        assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_metadata(parsed):
    assert parsed.doc_no == "沪科提复〔2025〕56号"
    assert (parsed.session_name, parsed.proposal_number) == ("市政协十四届三次会议", "0246")
    assert parsed.proposer == "九三学社界别"
    assert parsed.proposal_title == "以科技创新策源引领产业高端发展"
    assert parsed.handling_result == "解决或采纳"
    assert parsed.disclosure == "主动公开 · 全文"
    assert parsed.signed_unit == "上海市科学技术委员会"
    assert parsed.reply_date == date(2025, 7, 10)
    assert parsed.co_units == ["市教委", "市国资委", "市人才局"]
    assert parsed.copy_to == ["市政府办公厅建议提案处", "市政协提案办"]
    assert (parsed.contact_name, parsed.contact_phone, parsed.postcode) == ("葛梦然", "23116217", "200003")


def test_three_sections(parsed):
    assert [s.title for s in parsed.sections] == [
        "关于加快人工智能赋能，建强产业高端引领主阵地",
        "关于强化企业主体地位，壮大产业创新发展主力军",
        "关于激发人才创新活力，畅通科技成果转化主动脉",
    ]


def test_every_commitment_in_order(parsed):
    assert len(parsed.commitments) == len(EXPECTED_PHRASES)
    for c, start in zip(parsed.commitments, EXPECTED_PHRASES, strict=True):
        assert c.phrase.startswith(start), (c.ordinal, c.phrase)
    assert [c.section for c in parsed.commitments] == [1] * 3 + [2] * 13 + [3] * 6
    # Phrases broken across lines in the published text are rejoined.
    assert "科学多模态大模型共性技术" in parsed.commitments[1].phrase


def test_items_and_units(parsed):
    def find(start):
        return next(c for c in parsed.commitments if c.phrase.startswith(start))

    assert find("加快研究研发准备金").item_label == "四是"
    assert find("加快研究研发准备金").co_units == ["市国资委"]
    assert set(find("联合市人才局、市教委等，以").co_units) == {"市教委", "市人才局"}
    assert parsed.commitments[0].item_label is None


def test_section_two_announces_three_items_but_lists_four(parsed):
    assert "section 2 announces 3 items but lists 4" in parsed.warnings


def test_reported_figures(parsed):
    got = {f.code: (f.period, f.value, f.unit, f.qualifier) for f in parsed.figures}
    assert got["empowered_results"] == ("2024", Decimal("216"), "项", "=")
    assert got["transfer_amount"] == ("2024", Decimal("11"), "亿元", ">")
    assert got["companies_incubated"] == ("2024", Decimal("153"), "家", "=")
    assert got["social_capital"] == ("2024", Decimal("68"), "亿元", ">")
    assert got["tech_contract_turnover"] == ("2024", Decimal("5200.73"), "亿元", "=")
    assert got["tech_contract_turnover_yoy"] == ("2024", Decimal("7.2"), "%", "=")
    assert got["transfer_pilot_units"][1:3] == (Decimal("39"), "家")


def test_paragraph_rebuilding():
    assert paragraphs("一、关于甲\n第一行没有结束\n\n第二行结束。\n另一段。") == [
        "一、关于甲", "第一行没有结束第二行结束。", "另一段。"]


def test_unrecognisable_text_warns():
    r = parse_reply("这不是一封答复函。")
    assert "not recognised: doc_no" in r.warnings and not r.commitments
