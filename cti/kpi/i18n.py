"""The words of the KPI page, in Chinese and English (a manager reads it in either).

One table per language with the same keys; a column of the report's table is named by its KPI
key (``cti.kpi.render.TABLE_COLUMNS``). ``LANGUAGES`` is what ``--language`` accepts.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh", "en")

_EN: Mapping[str, str] = {
    "title": "KPI report",
    "period": "Period",
    "until": "to",
    "timezone": "timezone",
    "queue": "queue",
    "all_queues": "all queues",
    "headline": "Against the center's targets",
    "target_at_least": "target ≥ {target}",
    "target_at_most": "target ≤ {target}",
    "met": "on target",
    "missed": "off target",
    "no_data": "no data",
    "three_ring_rate": "Answered within three rings",
    "service_level": "Service level",
    "abandon_rate": "Abandonment",
    "one_minute_contact_rate": "Leads contacted within one minute",
    "heatmap": "Answered within three rings, by weekday and hour",
    "heatmap_note": "Each cell: the share of calls offered in that hour answered within three rings; "
    "grey: no calls. Where it is red, more agents are needed.",
    "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
    "trend": "Three rings and service level",
    "abandonment": "Abandonment",
    "leads": "Leads and callbacks",
    "source": "source",
    "lead_count": "leads",
    "contacted": "contacted < 1 min",
    "rate": "rate",
    "source_queue_callback": "queue callbacks (kept their place; not leads)",
    "source_insurer": "insurer",
    "source_web": "web callback request",
    "source_ivr_callback": "IVR callback request",
    "source_campaign": "campaign",
    "funnel": "Lead funnel",
    "losses": "Losses",
    "no_losses": "No loss reasons recorded.",
    "by": "By {by}",
    "by_period": "Overall",
    "per_agent": "Per agent",
    "rules": "Definitions {version}: ring cycle {ring} s (three rings: {rings} s), service level within "
    "{threshold} s, abandons under {short} s left out. Unknown waits count as misses ({unknown} calls).",
    "nothing": "Nothing to show for this period.",
    "overall": "overall",
    "stage_lead": "lead",
    "stage_contacted": "contacted",
    "stage_appointment_booked": "appointment",
    "stage_assessed": "assessed",
    "stage_completed": "completed",
    "stage_surveyed": "surveyed",
}

_ZH: Mapping[str, str] = {
    "title": "KPI 报表",
    "period": "统计周期",
    "until": "至",
    "timezone": "时区",
    "queue": "队列",
    "all_queues": "全部队列",
    "headline": "对照中心目标",
    "target_at_least": "目标 ≥ {target}",
    "target_at_most": "目标 ≤ {target}",
    "met": "达标",
    "missed": "未达标",
    "no_data": "无数据",
    "three_ring_rate": "三声内接通率",
    "service_level": "服务水平",
    "abandon_rate": "放弃率",
    "one_minute_contact_rate": "线索一分钟内联系率",
    "heatmap": "三声内接通率（星期 × 小时）",
    "heatmap_note": "每格：该小时进线中三声内接通的比例；灰色：无来电。红色处需要增加坐席。",
    "weekdays": "周一 周二 周三 周四 周五 周六 周日",
    "trend": "三声内接通率与服务水平",
    "abandonment": "放弃率",
    "leads": "线索与回呼",
    "source": "来源",
    "lead_count": "线索",
    "contacted": "一分钟内联系",
    "rate": "比例",
    "source_queue_callback": "队列回呼（保留排队位置，不计入线索）",
    "source_insurer": "保险公司",
    "source_web": "网页回呼请求",
    "source_ivr_callback": "IVR 回呼请求",
    "source_campaign": "外呼活动",
    "funnel": "客户流向",
    "losses": "流失原因",
    "no_losses": "未记录流失原因。",
    "by": "按{by}",
    "by_period": "汇总",
    "per_agent": "各坐席",
    "rules": "定义版本 {version}：振铃周期 {ring} 秒（三声 = {rings} 秒），服务水平阈值 {threshold} 秒，"
    "短于 {short} 秒的放弃不计。等待时长未知的来电计为未达（{unknown} 通）。",
    "nothing": "本周期无可显示的数据。",
    "overall": "合计",
    "stage_lead": "线索",
    "stage_contacted": "已联系",
    "stage_appointment_booked": "已预约",
    "stage_assessed": "已定损",
    "stage_completed": "已完成",
    "stage_surveyed": "已回访",
    "queue_word": "队列",
    "agent": "坐席",
    "hour": "小时",
    "day": "日",
    "week": "周",
    "month": "月",
    # the table's columns (KPI keys)
    "offered": "进线",
    "answered": "接通",
    "abandoned": "放弃",
    "asa_s": "平均应答 秒",
    "aht_s": "平均处理 秒",
    "service_level_2": "服务水平2",
    "agent_three_ring_rate": "坐席三声",
    "queue_callback_one_minute_contact_rate": "回呼一分钟",
    "fcr_rate": "首次结案率",
    "repeat_call_rate": "48小时二次进线",
    "appointment_rate": "预约率",
}

_TEXT: Mapping[str, Mapping[str, str]] = {"en": _EN, "zh": _ZH}


def words(language: str) -> Mapping[str, str]:
    """The page's words in ``language`` (zh or en); raises ``ValueError`` for another."""
    if language not in _TEXT:
        raise ValueError(f"language must be one of {list(LANGUAGES)}, not {language!r}")
    return _TEXT[language]


def column_header(language: str, key: str, english: str) -> str:
    """A table column's header: its translation, or the English header (``render.TABLE_COLUMNS``)."""
    return _TEXT[language].get(key, english) if language != "en" else english


def group_word(language: str, by: str) -> str:
    """The name of a grouping dimension (queue, agent, hour...) in ``language``."""
    key = "queue_word" if by == "queue" else by
    return _TEXT[language].get(key, by) if language != "en" else by
