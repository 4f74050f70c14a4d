"""Templates cannot hang or crash a run: arithmetic and string building are bounded, in
``validate`` (constant expressions) and at render time (values from vars), and every
failure of a template is a TemplateProblem."""

from __future__ import annotations

from typing import Any

import pytest

from butler_maint.templating import (
    MAX_INT_BITS,
    MAX_LENGTH,
    TemplateProblem,
    checked_binop,
    condition_variables,
    evaluate,
    render,
    variables_used,
)


@pytest.mark.parametrize(
    "text",
    [
        "{{ 9 ** (9 ** 9) }}",
        "{{ 9 ** 99999 }}",
        "{{ -(2 ** 5000) }}",
        "{{ (2 ** 4000) * (2 ** 4000) }}",
        "{{ 'a' * 999999999 }}",
        "{{ [0] * (10 ** 8) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ [1, 2 ** 9999] }}",
    ],
)
def test_constant_arithmetic_past_the_bounds_is_found_by_validate(text: str) -> None:
    with pytest.raises(TemplateProblem, match="expected template arithmetic within"):
        variables_used(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{{ 1 / 0 }}", "division by zero"), ("{{ 2.0 ** 99999 }}", "result out of range")],
)
def test_constant_arithmetic_that_fails_is_found_by_validate(text: str, reason: str) -> None:
    with pytest.raises(TemplateProblem, match=f"template arithmetic fails: {reason}"):
        variables_used(text)


def test_arithmetic_in_a_when_condition_is_checked() -> None:
    with pytest.raises(TemplateProblem, match="bits"):
        condition_variables("size > 7 ** 99999")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("{{ x | ipaddr }}", "No filter named 'ipaddr'"),
        ("{{ x is exists }}", "No test named 'exists'"),
    ],
)
def test_unknown_filters_and_tests_do_not_compile(text: str, name: str) -> None:
    with pytest.raises(TemplateProblem) as info:
        variables_used(text)
    message = str(info.value)
    assert message.startswith(f"template does not compile: {name}")
    assert "expected one of Jinja2's or ansible-core's builtin filters and tests" in message


def test_nesting_past_the_recursion_limit_does_not_compile() -> None:
    with pytest.raises(TemplateProblem, match="nested too deeply"):
        variables_used("{{ " + "(" * 2000 + "x" + ")" * 2000 + " }}")


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("{{ x ** y }}", {"x": 9, "y": 9**6}),
        ("{{ x * x }}", {"x": 2**4000}),
        ("{{ s * n }}", {"s": "ab", "n": MAX_LENGTH}),
        ("{{ s + s }}", {"s": "a" * MAX_LENGTH}),
        ("{{ f % n }}", {"f": "%0*d", "n": (10**9, 1)}),
        ("{{ f | format(1) }}", {"f": "%.999999999f"}),
        ("{{ s | center(n) }}", {"s": "x", "n": 10**9}),
        ("{{ s | indent(n) }}", {"s": "x\ny", "n": 10**9}),
        ("{{ s | replace('', t) }}", {"s": "a" * 1000, "t": "x" * 10_000}),
        ("{{ t | join(items) }}", {"t": "x" * 1000, "items": "y" * 10_000}),
        ("{{ s.ljust(n) }}", {"s": "x", "n": 10**9}),
        ("{{ s.zfill(n) }}", {"s": "1", "n": 10**9}),
        ("{{ s.expandtabs(n) }}", {"s": "\t" * 100, "n": 10**6}),
        ("{{ t.join(items) }}", {"t": "x" * 1000, "items": ["y"] * 10_000}),
        ("{{ s.replace('a', t) }}", {"s": "a" * 1000, "t": "x" * 10_000}),
        ("{{ f.format(1) }}", {"f": "{:>999999999}"}),
        ("{{ f.format(1, n) }}", {"f": "{:{}}", "n": 10**9}),
    ],
)
def test_rendering_refuses_huge_results_before_computing_them(
    text: str, variables: dict[str, Any]
) -> None:
    with pytest.raises(TemplateProblem, match=r"cannot render .*expected template arithmetic"):
        render(text, variables)


@pytest.mark.parametrize(
    ("text", "variables", "reason"),
    [
        ("{{ x / y }}", {"x": 1, "y": 0}, "ZeroDivisionError"),
        ("{{ x ** 9999 }}", {"x": 2.0}, "OverflowError"),
        ("{{ x[5] }}", {"x": [1]}, "list object has no element 5|IndexError"),
        ("{{ n | int }}{{ x.nope() }}", {"n": 1, "x": 1}, "has no attribute 'nope'"),
        ("{{ lipsum(99999999) }}", {}, "'lipsum' is undefined"),
        ("{{ x | ipaddr }}", {"x": 1}, "No filter named 'ipaddr'"),
    ],
)
def test_every_render_failure_is_a_template_problem(
    text: str, variables: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TemplateProblem, match=reason):
        render(text, variables)


def test_a_when_condition_is_bounded_too() -> None:
    with pytest.raises(TemplateProblem, match=r"cannot evaluate when .*bits"):
        evaluate("x ** y > 1", {"x": 10, "y": 10**7})
    with pytest.raises(TemplateProblem, match="ZeroDivisionError"):
        evaluate("1 / x", {"x": 0})


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("{{ 2 ** 10 }}", {}, "1024"),
        ("{{ x ** 3 }}", {"x": 7}, "343"),
        ("{{ 2 ** -1 }}", {}, "0.5"),
        ("{{ 'ab' * 3 }}", {}, "ababab"),
        ("{{ [0] * 2 }}", {}, "[0, 0]"),
        ("{{ '%5d|%s' % (x, 'y') }}", {"x": 42}, "   42|y"),
        ("{{ '%d%%' | format(x) }}", {"x": 85}, "85%"),
        ("{{ 'x' | center(5) }}", {}, "  x  "),
        ("{{ 'a-b' | replace('-', '+') }}", {}, "a+b"),
        ("{{ ','.join(['a', 'b']) }}", {}, "a,b"),
        ("{{ '{:>4}'.format(7) }}", {}, "   7"),
        ("{{ (x * 1024) // 3 }}", {"x": 3}, "1024"),
    ],
)
def test_ordinary_templates_still_render(
    text: str, variables: dict[str, Any], expected: str
) -> None:
    assert variables_used(text) <= set(variables)
    assert render(text, variables) == expected


def test_the_bounds_themselves() -> None:
    assert checked_binop("**", 2, MAX_INT_BITS - 1) == 2 ** (MAX_INT_BITS - 1)
    with pytest.raises(TemplateProblem):
        checked_binop("**", 2, MAX_INT_BITS + 1)
    assert len(checked_binop("*", "ab", MAX_LENGTH // 2)) == MAX_LENGTH
    with pytest.raises(TemplateProblem):
        checked_binop("*", MAX_LENGTH // 2 + 1, "ab")
    assert checked_binop("%", 7, 3) == 1
    assert checked_binop("+", [1], [2]) == [1, 2]
