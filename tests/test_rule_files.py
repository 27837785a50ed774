"""Rule files as the grammar reads them (SPEC §4): each file declares its
kind, names are unique, behaviour comes from tags, mistakes are located."""
import pytest

from matcalc.language.errors import RuleError
from matcalc.rewriting.reader import KINDS, TAGS, RuleFile
from matcalc.rewriting.rules import RuleBase, default_rules

from conftest import ROOT


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*.rules")), ids=lambda p: p.name)
def test_every_shipped_rule_file_declares_its_kind(path):
    parsed = RuleFile(path.read_text(encoding="utf-8"), path.name)
    assert parsed.kinds is not None and len(parsed.kinds) == 1 and parsed.kinds[0] in KINDS
    assert {r.kind for r in parsed.rules()} == set(parsed.kinds)


def test_rule_names_are_unique_across_kinds():
    names = [r.name for rules in default_rules().rules.values() for r in rules]
    assert len(names) == len(set(names))


def test_a_duplicate_name_is_refused_at_load():
    base = RuleBase()
    first, second = RuleFile("a: (Aᵀ)ᵀ -> A\na: tr(a) -> a when scalar(a)", "dup.rules").rules()
    base.add(first)
    with pytest.raises(RuleError, match="'a' is taken"):
        base.add(second)


def test_the_kind_of_a_linear_map_rule_is_read_from_the_header():
    text = "left-product: A L => {} \n"
    adjoint = RuleFile("%kind adjoint\n" + text.format("Aᵀ G"), "a.rules").rules()[0]
    jacobian = RuleFile("%kind jacobian\n" + text.format("kron(eye(cols(L)), A) J"), "j.rules").rules()[0]
    assert (adjoint.kind, jacobian.kind) == ("adjoint", "jacobian")
    # not guessed from the letters on the right
    with pytest.raises(RuleError, match="declares no kind"):
        RuleFile(text.format("Aᵀ G"), "x.rules")
    with pytest.raises(RuleError, match="J on the right is not on the left"):
        RuleFile("%kind adjoint\n" + text.format("kron(eye(cols(L)), A) J"), "x.rules").rules()


def test_a_rule_of_another_kind_than_the_header_is_refused():
    with pytest.raises(RuleError, match="is a simplify rule, but the file declares %kind differential"):
        RuleFile("%kind differential\nflip: (Aᵀ)ᵀ -> A", "d.rules")


@pytest.mark.parametrize("line, message, column", [
    ("bad-tag: (Aᵀ)ᵀ -> A tag shiny", "unknown tag 'shiny'", 25),
    ("bad-condition: Aᵀ -> A when shiny(A)", "unknown condition 'shiny'", 29),
    ("no-rhs: (Aᵀ)ᵀ -> ", "a rule is 'name: lhs = rhs'", 15),
])
def test_mistakes_in_rule_files_are_located_with_a_caret(line, message, column):
    with pytest.raises(RuleError, match=message) as caught:
        RuleFile("# a comment\n" + line, "mine.rules")
    err = caught.value
    assert (err.line, err.column) == (2, column) and str(err).splitlines()[-1].endswith("^")


def test_tags_choose_behaviour_and_are_known():
    tagged = {tag: [r.name for rules in default_rules().rules.values() for r in rules if tag in r.tags]
              for tag in TAGS}
    assert tagged["quiet"] and tagged["evaluation"]


def test_a_file_defines_a_function_and_its_derivative_without_a_header():
    parsed = RuleFile("swish: swish(u) = u ∘ σ(u)\nswish-d: swish'(u) = σ(u)", "s.rules")
    assert parsed.definitions == [("swish", 1)]
    assert [line.kind for line in parsed.lines] == ["definition", "derivative"]


def test_rule_keywords_stay_names_in_expressions():
    from matcalc.language.parser import parse_expr

    assert str(parse_expr("tag + when + assume", frozenset({"tag", "when", "assume"}))) == "tag + when + assume"
