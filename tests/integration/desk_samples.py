"""Sample bodies in the shapes the agent-desktop interfaces define (the pop of
``cti.desk.pop.build_pop``, ``GET /api/agents/me``, the wallboard): what the page's browser
tests render, with times relative to the moment a test runs so the live timers show real values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def iso(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def agent_me(state: str = "ringing", reason: str = "offered") -> dict[str, Any]:
    return {
        "agent": "1001",
        "name": "王芳",
        "state": state,
        "reason": reason,
        "since": iso(4),
        "until": None,
        "call_id": "c-100" if state != "ready" else None,
        "queues": ["service", "sales"],
        "chosen_queues": ["service"],
        "pause_reasons": [
            {"code": "lunch", "label": {"zh": "午餐", "en": "Lunch"}},
            {"code": "training", "label": {"zh": "培训", "en": "Training"}},
        ],
        "dispositions": [
            {
                "code": "resolved",
                "label": {"zh": "已解决", "en": "Resolved"},
                "resolved": True,
                "appointment": False,
                "funnel_stage": None,
                "funnel_lost": False,
            },
            {
                "code": "appointment",
                "label": {"zh": "已解决，已预约", "en": "Resolved, appointment booked"},
                "resolved": True,
                "appointment": True,
                "funnel_stage": "booked",
                "funnel_lost": False,
            },
            {
                "code": "callback",
                "label": {"zh": "需回电", "en": "Call back"},
                "resolved": False,
                "appointment": False,
                "funnel_stage": None,
                "funnel_lost": False,
            },
        ],
        "wrapup_requires_disposition": True,
    }


def known_pop() -> dict[str, Any]:
    return {
        "offer": "c-100:PJSIP/1001-00000001",
        "call_id": "c-100",
        "offer_id": "PJSIP/1001-00000001",
        "agent": "1001",
        "queue": "service",
        "rang_at": iso(3),
        "caller": {"number": "138****5678", "name": "李明", "segment": "vip", "language": "zh"},
        "customer": {"id": 42, "name": "李明", "segment": "vip", "language": "zh"},
        "new_customer": False,
        "ivr": {
            "flow": "hotline",
            "path": ["welcome", "main_menu", "service", "booking"],
            "keys": ["2", "1"],
            "values": {"area_code": "021", "station": "上海浦东服务站"},
        },
        "entered_at": iso(38),
        "wait_s": 35,
        "repeat_48h": {"calls": 2, "last_at": iso(6 * 3600)},
        "vehicles": [
            {
                "plate": "沪A·12345",
                "model": "ID.4 CROZZ",
                "vin_last6": "123456",
                "last_service": {"on": "2025-05-10", "kind": "first_maintenance", "dealer": "浦东服务站"},
                "next_due": {"kind": "maintenance", "on": "2025-11-10", "overdue": True},
                "insurance": {
                    "insurer": "平安保险",
                    "expires_on": "2026-01-20",
                    "renewal_status": "quoted",
                    "days_left": 12,
                },
            },
            {
                "plate": "沪B·88888",
                "model": "Tiguan L",
                "vin_last6": "654321",
                "last_service": None,
                "next_due": {"kind": "first_maintenance", "on": "2026-03-01", "overdue": False},
                "insurance": None,
            },
        ],
        "cases": [
            {
                "id": 7,
                "kind": "complaint",
                "status": "open",
                "opened_at": iso(86400 * 3),
                "summary": "空调异响",
            },
        ],
        "contacts": [
            {
                "at": iso(3600 * (6 + 20 * i)),
                "queue": "service",
                "agent": f"10{i:02d}",
                "disposition": ["callback", "resolved"][i % 2],
                "resolved": i % 2 == 1,
            }
            for i in range(5)
        ],
    }


def unknown_pop() -> dict[str, Any]:
    pop = known_pop()
    pop.update(
        offer="c-200:PJSIP/1001-00000002",
        call_id="c-200",
        caller={"number": "139****0000", "name": None, "segment": None, "language": None},
        customer=None,
        new_customer=True,
        repeat_48h={"calls": 0, "last_at": None},
        vehicles=[],
        cases=[],
        contacts=[],
    )
    return pop


def wallboard() -> dict[str, Any]:
    return {
        "at": iso(0),
        "queues": [
            {
                "name": "service",
                "waiting": 3,
                "longest_wait_s": 74,
                "agents": {"ready": 2, "on_call": 5, "wrap_up": 1, "paused": 1},
                "today": {
                    "offered": 412,
                    "answered": 396,
                    "three_ring_rate": 0.874,
                    "service_level": 0.912,
                    "abandon_rate": 0.039,
                },
            },
            {
                "name": "sales",
                "waiting": 0,
                "longest_wait_s": 0,
                "agents": {"ready": 1, "logged_out": 2},
                "today": {
                    "offered": 0,
                    "answered": 0,
                    "three_ring_rate": None,
                    "service_level": None,
                    "abandon_rate": None,
                },
            },
        ],
        "agents": [
            {"id": "1001", "name": "王芳", "state": "on_call", "reason": "answered", "since": iso(185)},
            {"id": "1002", "name": "张伟", "state": "ready", "reason": "unpause", "since": iso(42)},
            {
                "id": "1003",
                "name": "Emily Chen",
                "state": "paused",
                "reason": "lunch",
                "reason_label": {"zh": "午餐", "en": "Lunch"},
                "since": iso(1260),
            },
            {"id": "1004", "name": "刘洋", "state": "wrap_up", "reason": "call-ended", "since": iso(20)},
        ],
        "pause_reasons": [
            {"code": "break", "label": {"zh": "休息", "en": "Break"}},
            {"code": "lunch", "label": {"zh": "午餐", "en": "Lunch"}},
        ],
    }
