"""A caller's ACD record, as a restart adopts it: the IVR's hand-over context survives."""

from __future__ import annotations

import pytest

from cti.acd.model import Entry
from cti.acd.session import Waiting


def test_the_ivr_context_survives_the_record() -> None:
    context = {"flow": "hotline", "values": {"area_code": "021", "customer.id": "C-7"}}
    session = Waiting(Entry("c1", "sales", 10.0, 2), "13800138000", 0, "en", context=context)
    adopted = Waiting.from_record("c1", session.record())
    assert adopted.context == context
    assert (adopted.entry, adopted.caller_number, adopted.language) == (session.entry, "13800138000", "en")


def test_a_record_without_context_is_read_as_none() -> None:
    record = Waiting(Entry("c1", "sales", 10.0), None, 0).record()
    del record["context"]  # written before the context was kept
    assert Waiting.from_record("c1", record).context is None


def test_a_context_that_is_no_mapping_is_refused_by_name() -> None:
    record = {**Waiting(Entry("c1", "sales", 10.0), None, 0).record(), "context": ["x"]}
    with pytest.raises(ValueError, match=r"call c1: .*context is list"):
        Waiting.from_record("c1", record)
