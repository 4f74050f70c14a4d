"""Templates as Ansible renders them: nested vars, ansible-core's filters and tests, the
sandbox kept, loops and refused plugins as clear errors."""

from __future__ import annotations

import json

import pytest

from butler_maint.templating import (
    MAX_LENGTH,
    TemplateProblem,
    Unavailable,
    evaluate,
    render,
    render_data,
    variables_used,
)


def test_nested_vars_render_recursively() -> None:
    variables = {"base": "/tmp", "p": "{{ base }}/x", "q": "{{ p }}/y"}
    assert render("{{ q }}", variables) == "/tmp/x/y"
    assert render_data({"path": "{{ p }}", "list": ["{{ q }}", 3]}, variables) == {
        "path": "/tmp/x",
        "list": ["/tmp/x/y", 3],
    }


def test_nested_values_inside_containers_render() -> None:
    variables = {
        "root": "/srv",
        "paths": ["{{ root }}/a", "{{ root }}/b"],
        "m": {"k": "{{ root }}"},
    }
    assert render("{{ paths | join(',') }} {{ m.k }}", variables) == "/srv/a,/srv/b /srv"


def test_a_single_expression_keeps_its_type() -> None:
    variables = {"ports": "{{ [22, 80] }}", "limit": "{{ 40 + 2 }}", "text": "{{ 1 }}{{ 2 }}"}
    assert render("{{ ports | length }} {{ limit + 1 }} {{ text ~ '!' }}", variables) == "2 43 12!"
    assert evaluate("limit > 41 and 22 in ports", variables) is True


def test_inventory_style_vars_are_rendered_in_when() -> None:
    variables = {"env_name": "prod", "is_prod": "{{ env_name == 'prod' }}"}
    assert evaluate("is_prod", variables) is True
    assert evaluate("is_prod | bool", {**variables, "env_name": "dev"}) is False


def test_a_variable_loop_is_an_error_naming_the_loop() -> None:
    with pytest.raises(TemplateProblem, match=r"recursive loop in variables: a -> b -> a"):
        render("{{ a }}", {"a": "{{ b }}", "b": "{{ a }}"})
    with pytest.raises(TemplateProblem, match=r"recursive loop in variables: me -> me"):
        render_data(["x {{ me }}"], {"me": ["{{ me }}"]})
    with pytest.raises(TemplateProblem, match="recursive loop"):
        evaluate("a", {"a": "{{ a }}"})


def test_undefined_inside_a_nested_var_is_undefined() -> None:
    variables = {"p": "{{ base }}/x"}
    with pytest.raises(TemplateProblem, match="variable p: 'base' is undefined"):
        render("{{ p }}", variables)
    assert render("{{ p | default('none') }}", variables) == "none"
    assert evaluate("p is defined", variables) is False


def test_a_failing_nested_var_names_the_variable() -> None:
    with pytest.raises(TemplateProblem, match=r"variable p: ZeroDivisionError"):
        render("{{ p }}", {"p": "{{ 1 // 0 }}"})


def test_only_read_variables_render() -> None:
    """Like Ansible: a broken variable nobody reads costs nothing."""
    assert render("{{ ok }}", {"ok": "fine", "broken": "{{ nope }}"}) == "fine"


def test_a_long_chain_of_nested_vars_stays_bounded() -> None:
    variables = {f"v{i}": f"{{{{ v{i + 1} }}}}" for i in range(2000)} | {"v2000": "end"}
    with pytest.raises(TemplateProblem, match="nested too deeply"):
        render("{{ v0 }}", variables)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ 'yes' | bool }}", "True"),
        ("{{ 'off' | bool }}", "False"),
        ("{{ missing | default('d') }}", "d"),
        ("{{ (n > 1) | ternary('many', 'one') }}", "many"),
        ("{{ 'kernel-6.1.0-13' | regex_search('[0-9.]+-[0-9]+') }}", "6.1.0-13"),
        ("{{ 'a-b-c' | regex_replace('-', '_') }}", "a_b_c"),
        ("{{ 'eth0 eth1' | regex_findall('eth[0-9]') | length }}", "2"),
        ("{{ {'a': 1} | to_json }}", '{"a": 1}'),
        ("{{ ('{\"a\": [1, 2]}' | from_json).a[1] }}", "2"),
        ("{{ {'a': [1, 2]} | to_yaml | trim }}", "a: [1, 2]"),
        ("{{ ('k: v' | from_yaml).k }}", "v"),
        ("{{ ({'a': 1} | combine({'b': 2})).b }}", "2"),
        ("{{ ({'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=True)).a | length }}", "2"),
        ("{{ ({'a': 1} | dict2items)[0].key }}", "a"),
        ("{{ ([{'key': 'a', 'value': 7}] | items2dict).a }}", "7"),
        ("{{ [1, [2, [3]]] | flatten | sum }}", "6"),
        ("{{ '/etc/ssh/sshd_config' | basename }}", "sshd_config"),
        ("{{ 'x y' | quote }}", "'x y'"),
        ("{{ '10M' | human_to_bytes }}", "10485760"),
        ("{{ [1, 2] | union([2, 3]) | join(',') }}", "1,2,3"),
        ("{{ 'abc' | hash('sha1') }}", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("{{ 'a,b' | split(',') | last }}", "b"),
    ],
)
def test_ansible_filters(text: str, expected: str) -> None:
    assert render(text, {"n": 3}) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'2.19.1' is version('2.19', '>=')", True),
        ("'1.0' is version_compare('2.0', '>')", False),
        ("'web01' is match('web')", True),
        ("'db-web' is match('web')", False),
        ("'db-web' is search('web')", True),
        ("'yes' is truthy", True),
        ("[1] is subset([1, 2])", True),
        ("'/etc' is abs", True),
        ("missing is undefined", True),
    ],
)
def test_ansible_tests(expression: str, expected: bool) -> None:
    assert evaluate(expression, {}) is expected


def test_filters_reading_the_controller_are_not_offered() -> None:
    for text in ("{{ '~' | expanduser }}", "{{ '$HOME' | expandvars }}", "{{ '/' is exists }}"):
        with pytest.raises(TemplateProblem, match=r"No (filter|test) named"):
            variables_used(text)
    for text in ("{{ lookup('pipe', 'id') }}", "{{ query('env', 'HOME') }}"):
        with pytest.raises(TemplateProblem, match="is undefined"):
            render(text, {})


def test_a_value_ansible_would_warn_about_is_an_error() -> None:
    with pytest.raises(TemplateProblem, match="The `bool` filter coerced invalid value 'maybe'"):
        render("{{ 'maybe' | bool }}", {})


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ({} | combine({})).__class__.__init__.__globals__ }}",
        "{{ ('2020-01-01 00:00:00' | to_datetime).__class__.__subclasses__() }}",
        "{{ ('{}' | from_json).__class__.__base__.__subclasses__() }}",
        "{{ [1] | map('extract', {'__class__': 1}) | list | length }}{{ env.__globals__ }}",
        "{{ range.__self__.__import__('os').system('id') }}",
    ],
)
def test_hostile_templates_stay_in_the_sandbox(text: str) -> None:
    with pytest.raises(TemplateProblem, match=r"unsafe|undefined|has no attribute"):
        render(text, {})


def test_attribute_filters_stay_in_the_sandbox() -> None:
    shown = render("{{ [{'a': 1}] | map(attribute='__class__') | list }}", {})
    assert "class" not in shown
    with pytest.raises(TemplateProblem, match="unsafe"):
        render("{{ ([{'a': 1}] | map(attribute='__class__') | first).__name__ }}", {})


def test_hostile_nested_var_stays_in_the_sandbox() -> None:
    variables = {"x": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    with pytest.raises(TemplateProblem, match=r"variable x: .*unsafe"):
        render("{{ x | length }}", variables)


def test_plugins_are_bounded() -> None:
    with pytest.raises(TemplateProblem, match="an indent of 100000"):
        render("{{ {'a': [1]} | to_nice_json(indent=100000) }}", {})
    with pytest.raises(TemplateProblem, match=r"replacing .* matches"):
        render("{{ ('a' * 1000) | regex_replace('', 'b' * 10000) }}", {})
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
        for p, n in zip("abcdef", "bcdefg", strict=True)
    )
    with pytest.raises(TemplateProblem, match=f"more than {MAX_LENGTH:,} values"):
        render("{{ (text | from_yaml).g | length }}", {"text": laughs})


def test_a_missing_environment_variable_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUTLER_TEST_TOKEN", raising=False)
    with pytest.raises(Unavailable, match="variable token: environment variable"):
        render("Bearer {{ token }}", {"token": "{{ env('BUTLER_TEST_TOKEN') }}"})
    monkeypatch.setenv("BUTLER_TEST_TOKEN", "s3cret")
    assert json.loads(
        render("{{ {'t': token} | to_json }}", {"token": "{{ env('BUTLER_TEST_TOKEN') }}"})
    ) == {"t": "s3cret"}
