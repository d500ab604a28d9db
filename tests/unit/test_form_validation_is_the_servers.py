"""一次性告知: the server names every problem of a form at once, beside its field. A browser
constraint (required, pattern, min, max, minlength, step, type=email/url) would stop the
form at its first problem with a bubble instead, so no template's field carries one unless
its form is marked novalidate."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
JINJA = r"\{[{%#].*?[}%#]\}"
FIELD = re.compile(rf"<(?:input|select|textarea)\b(?:[^>{{]|{JINJA})*>", re.S)
FORM = re.compile(rf"<form\b(?:[^>{{]|{JINJA})*>", re.S)
# Attribute names only: aria-required is a hint for screen readers, name="min" a value.
CONSTRAINT = re.compile(r"\s(?:required|pattern|min|max|minlength|step)(?=[\s=/>])"
                        r"|\stype=[\"']?(?:email|url)\b")


def browser_constraints(text: str) -> list[tuple[int, str]]:
    """(line, field tag) of each field whose browser constraint would pop a bubble."""
    found = []
    for field in FIELD.finditer(text):
        forms = list(FORM.finditer(text, 0, field.start()))
        if forms and "novalidate" in forms[-1].group(0):
            continue
        # The template's own expressions are not attributes: {% if required %} is not one.
        if CONSTRAINT.search(re.sub(JINJA, " ", field.group(0), flags=re.S)):
            found.append((text.count("\n", 0, field.start()) + 1,
                          " ".join(field.group(0).split())[:120]))
    return found


def test_the_scan_sees_a_browser_constraint_and_ignores_hints() -> None:
    assert browser_constraints('<form><input name="a" required></form>')
    assert browser_constraints('<form>\n<input name="a"\n  min="1">\n</form>')
    assert browser_constraints('<input type="email" name="e">')
    assert not browser_constraints('<form novalidate><input name="a" required></form>')
    assert not browser_constraints('<input name="a"{% if required %} aria-required="true"'
                                   '{% endif %}>')
    assert not browser_constraints('<input name="min" type="number">')


def test_no_template_form_pops_browser_validation() -> None:
    found = {f"{path.relative_to(TEMPLATES)}:{line}": tag
             for path in sorted(TEMPLATES.rglob("*.html"))
             for line, tag in browser_constraints(path.read_text(encoding="utf-8"))}
    assert found == {}
