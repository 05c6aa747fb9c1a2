"""docs/assessment.md lists every rule of procedure.RULES with its id, severity,
source and date, between the markers below. `python tests/unit/test_rules_doc.py` rewrites that
block from the table; the test fails when the page and the table differ."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "assessment.md")
START = "<!-- rules: generated from procedure.RULES by tests/unit/test_rules_doc.py -->"
END = "<!-- rules: end -->"


def _cell(text):
    return (text or "").replace("|", "\\|").replace("\n", " ")


def rules_block(rules):
    lines = [START,
             "| id | severity | blocks | edition | changed | source |",
             "|---|---|---|---|---|---|"]
    for rule_id in sorted(rules, key=lambda i: (not rules[i]["severities"], i)):
        rule = rules[rule_id]
        title = rule["title"]
        if rule["was"]:
            title += "; 2021: " + rule["was"]
        if rule["note"]:
            title += " (" + rule["note"] + ")"
        lines.append("| `%s`: %s | %s | %s | %s | %s | %s |" % (
            rule_id, _cell(title), ", ".join(rule["severities"]) or "no finding",
            ", ".join(rule["gates"]) or "", rule["edition"], rule["changed"] or "",
            _cell(rule["source"])))
    lines.append(END)
    return "\n".join(lines)


def current_block(text):
    match = re.search(re.escape(START) + ".*?" + re.escape(END), text, re.S)
    return match.group(0) if match else None


def test_the_page_lists_every_rule_as_the_table_has_it():
    from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure

    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    block = current_block(text)
    assert block is not None, "the rules block is missing from %s" % DOC
    for rule_id in procedure.RULES:
        assert "| `%s`:" % rule_id in block, rule_id
    assert block == rules_block(procedure.RULES), "run: python tests/unit/test_rules_doc.py"


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
    from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure

    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    block = current_block(text)
    if block is None:
        sys.exit("no rules block (%s ... %s) in %s" % (START, END, DOC))
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(text.replace(block, rules_block(procedure.RULES)))
