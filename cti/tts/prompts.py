"""What a flow can say, known before any call: the prompts ``cti tts build`` renders ahead.

Pure: reads a loaded ``Flow`` only.
"""

from __future__ import annotations

from cti.ivr.model import Flow, SayStationNode


def flow_prompts(flow: Flow) -> list[tuple[str, str]]:
    """Every (text, language) pair the flow can speak, each once, in the flow's order.

    A prompt is spoken in each of the flow's languages, as cti.ivr's interpreter picks its text.
    Left out: recordings (``sound``), and say_station's ``found``, a template filled with the
    station for each call, which is rendered on first use.
    """
    pairs: dict[tuple[str, str], None] = {}
    for node in flow.nodes.values():
        for path, say in node.prompts():
            if say.sound is not None or (isinstance(node, SayStationNode) and path == ("found",)):
                continue
            for language in flow.languages:
                text, spoken = say.spoken(language, flow.default_language)
                if text.strip():
                    pairs.setdefault((text, spoken), None)
    return list(pairs)
