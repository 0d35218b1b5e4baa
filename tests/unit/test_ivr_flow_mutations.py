"""Whatever a flow file holds, reading and checking it never raises: it yields a flow or problems,
each with a line. The shipped flows are mutated at the text level, as an editor slip, a bad merge
or a wrong encoding would mutate them, and read the way ``cti flows check`` and ``cti run`` read
them (bytes in, ``read_flow_bytes``)."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.ivr.loader import Parsed, read_flow_bytes

ROOT = Path(__file__).resolve().parents[2]
FLOWS = sorted((ROOT / "ivr_flows").glob("*.yaml"))
SHIPPED = [path.read_bytes().splitlines(keepends=True) for path in FLOWS]
QUEUES = {"sales", "service", "roadside", "complaints", "vip", "general"}

#: Scalars that YAML reads as something else, or that no field accepts.
TRICKY = [
    b"2026-13-45", b"2026-02-30", b"2026-01-01T25:00", b"12:30", b"24:00-25:00", b"1" * 5000, b"1e999",
    b"-.inf", b".nan", b"0x1F", b"0o17", b"-1", b"~", b"null", b"[]", b"{}", b"[a, [b, {c: d}]]",
    b"&anchor x", b"*invalid_key", b"*undefined", b"!!binary AAAA", b"!!int x", b"!!float x",
    b"!!bool x", b"!!timestamp x", b"!!python/object:os.system {}", b"!!set {a}", b"!!omap [a: 1]",
    b"<<: *invalid_key", b"'unterminated", b'"\\xff\\ud800"', b"\xff\xfe", b"\x00", b"\t", b"- x",
]  # fmt: skip
scalars = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12).map(str.encode), st.binary(max_size=8))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A shipped flow with one to four line-level edits."""
    lines = list(draw(st.sampled_from(SHIPPED)))
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "scalar", "bytes", "indent", "dedent"]))
        if edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif edit == "scalar":
            key, colon, _ = lines[at].partition(b":")
            lines[at] = key + (colon or b":") + b" " + draw(scalars) + b"\n"
        elif edit == "bytes":
            cut = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:cut] + draw(scalars) + lines[at][cut:]
        elif edit == "indent":
            lines[at] = b" " * draw(st.integers(1, 4)) + lines[at]
        else:
            lines[at] = lines[at][draw(st.integers(1, 4)) :]
    return b"".join(lines)


def problems_have_lines(parsed: Parsed, text: bytes) -> None:
    # YAML also breaks lines at \r, NEL and U+2028/9; str.splitlines knows every one of them.
    last = max(text.count(b"\n"), len(text.decode("utf-8", "replace").splitlines())) + 1
    for problem in parsed.problems:
        assert problem.file == "flow.yaml"
        assert 1 <= problem.line <= last, problem
        assert problem.message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_given_any_edit_of_a_shipped_flow_then_a_flow_or_problems_with_lines_never_an_exception(
    text: bytes,
) -> None:
    parsed = read_flow_bytes(text, "flow.yaml", QUEUES)
    problems_have_lines(parsed, text)
    assert parsed.problems or parsed.flow is not None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_given_any_bytes_then_problems_with_lines_never_an_exception(text: bytes) -> None:
    parsed = read_flow_bytes(text, "flow.yaml", QUEUES)
    problems_have_lines(parsed, text)
