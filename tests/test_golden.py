"""Golden templates: packs merged with the golden's own section; bad input named precisely."""

from __future__ import annotations

import pytest

from fleet.check import golden
from fleet.errors import GoldenError


def write(tmp_path, text):
    p = tmp_path / "golden.yaml"
    p.write_text(text)
    return p


def test_packs_merge_with_the_golden_section(tmp_path):
    g = golden.load(
        write(
            tmp_path,
            """\
fleet_golden: 1
name: multi
policy: [uk, us]
emergency:
  numbers: ["101"]
  phone_route: sbc1.example.net
rules:
  - {id: proxy, key: sip.outbound_proxy, equals: sbc1.example.net, severity: high}
""",
        )
    )
    assert g.emergency.numbers == ["999", "112", "911", "101"]
    assert g.emergency.location_required  # RAY BAUM'S Act via the us pack
    assert g.emergency.prefixes == []  # the pack's 9 applies only where 9 is an access code
    assert g.emergency.pack_prefixes == ["9"]
    assert g.emergency.phone_route == ["sbc1.example.net"]
    assert any("A3.2" in s for s in g.emergency.sources["999"])
    assert g.rules[0].severity == "high"


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        (
            "rules:\n  - {id: r1, key: firmware, matches: '6.4.[', severity: high}\n",
            5,
            "rules[0].matches",
            "bad regular expression",
        ),
        ("policy: [uk, mars]\n", 4, "policy", "unknown policy pack 'mars'"),
        (
            "rules:\n  - {id: r1, key: firmware, equals: x, one_of: [y]}\n",
            5,
            "rules[0]",
            "exactly one of",
        ),
        (
            "rules:\n  - {id: r1, key: firmware, equals: x, severity: urgent}\n",
            5,
            "rules[0].severity",
            "expected 'critical', 'high'",
        ),
        ("emergency:\n  numbers: ['99a']\n", 5, "emergency.numbers", "not a dialable"),
        ("emergency:\n  numbrs: ['999']\n", 5, "emergency.numbrs", "unknown key"),
        (
            "rules:\n  - {id: a, key: model, present: true}\n"
            "  - {id: a, key: mac, present: true}\n",
            6,
            "rules[1].id",
            "duplicate rule id",
        ),
    ],
)
def test_bad_golden_names_file_line_and_field(tmp_path, body, line, field, message):
    p = write(tmp_path, "fleet_golden: 1\nname: t\n# comment\n" + body)
    with pytest.raises(GoldenError) as ei:
        golden.load(p)
    e = ei.value
    assert (e.file, e.line, e.field) == (str(p), line, field), str(e)
    assert message in str(e)


def test_missing_version_marker(tmp_path):
    with pytest.raises(GoldenError, match="fleet_golden"):
        golden.load(write(tmp_path, "name: t\n"))
