#!/usr/bin/env python3
"""Regenerates Tests/CrynuxSDKTests/Fixtures/jinja-features.json: small templates written for this
project, rendered by the reference (jinja2 in transformers' environment) so the Swift renderer can be
checked feature by feature. Needs `pip install jinja2==3.1.6`; not run by CI.
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2 import nodes


class AssistantTracker(Extension):
    # transformers' {% generation %} tag: outputs its body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def strftime_now(fmt):
    return datetime.datetime(2026, 11, 22, 0, 0, 0).strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

CTX = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <b> & \"you\""},
        {"role": "assistant", "content": "Hello!", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"b": 1, "a": [1.5, None, True]}}}]},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image"}]},
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "s": "  Hello, World!  ",
    "n": 7,
    "f": 2.5,
    "items": [3, 1, 2],
    "words": ["b", "A", "c", "a"],
    "d": {"b": 2, "a": 1, "C": 3},
    "empty": [],
    "nothing": None,
    "unicode": "héllo wörld ß ǆ 🚀",
    "add_generation_prompt": True,
    "bos_token": "<s>",
}

TEMPLATES = [
    # whitespace control and trim/lstrip
    "a\n  {% if true %}\n  b\n  {% endif %}\nc",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "{{ 'x' }}\n  {% if true %}y{% endif %}",
    "  {%+ if true %}x{% endif %}",
    "{# comment #}\nline\n  {#- c -#}  z",
    "{% raw %}{{ not rendered }}{% endraw %}",
    "a\r\nb\r\n",
    "trailing\n",
    "{{ 'a' }}  \n  {{- 'b' }}",
    "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n",
    # literals and output
    "{{ 1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 1e-7 }} {{ 2**62 }} {{ 2**0.5 }} {{ -0.0 }} {{ 1_000 }}",
    "{{ none }} {{ true }} {{ False }} {{ [1, 'a', none, (1,), (), {'k': [1]}] }}",
    "{{ 'it\\'s' }} {{ \"q\\\"d\" }} {{ 'tab\\there' }} {{ '\\u00e9\\x41' }} {{ 'a' 'b' }}",
    "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'nl\\n', '\\u200d', 'é'] }}",
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 * 3.5 }} {{ 'ab' * 3 }} {{ [1] * 2 }} {{ 1 + true }}",
    "{{ 1 ~ 2 ~ none ~ true ~ undefined_name }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 'a' != 'a' }} {{ 1 == true }}",
    "{{ 'ell' in 'hello' }} {{ 2 in items }} {{ 'a' in d }} {{ 'z' not in d }} {{ 5 not in items }}",
    "{{ not true }} {{ true and 'x' }} {{ '' or 'y' }} {{ none or 0 or [] }} {{ 0 and 1 }}",
    "{{ 'yes' if n > 5 else 'no' }} {{ 'yes' if n > 50 }}|{{ ('a' if false) is defined }}",
    # attribute and item access
    "{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages[-1].content[0].text }} {{ d.a }} {{ d['b'] }} {{ messages.0.role }}",
    "{{ d.missing }}|{{ d['missing'] }}|{{ items[10] }}|{{ d.missing is defined }}",
    "{{ s[2:7] }}|{{ s[::-1] }}|{{ items[1:] }}|{{ items[:-1] }}|{{ items[::2] }}|{{ unicode[1:4] }}|{{ items[5:1:-1] }}|{{ s[-3:] }}",
    # tests
    "{{ n is odd }} {{ n is even }} {{ n is divisibleby 7 }} {{ n is divisibleby(2) }} {{ n is number }} {{ f is float }} {{ n is integer }} {{ true is number }} {{ true is integer }}",
    "{{ s is string }} {{ d is mapping }} {{ items is sequence }} {{ s is sequence }} {{ d is iterable }} {{ n is iterable }} {{ nothing is none }} {{ nothing is defined }} {{ zz is undefined }}",
    "{{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ none is sameas none }} {{ 'a' is eq 'a' }} {{ 3 is gt 2 }} {{ 3 is lt(2) }} {{ 'AB' is upper }} {{ 'ab' is lower }} {{ 2 is in items }}",
    "{{ raise_exception is callable }} {{ n is not none }} {{ x is not defined }}",
    # filters
    "{{ s|trim }}|{{ s|trim('! ') }}|{{ s|length }}|{{ s|upper }}|{{ s|lower }}|{{ unicode|upper }}|{{ unicode|title }}|{{ 'hELLO wORLD'|capitalize }}",
    "{{ 'a-b c(d)e [f]g <h>i'|title }}|{{ \"they're bill's friends\"|title }}",
    "{{ items|join(', ') }}|{{ items|join }}|{{ messages|map(attribute='role')|join('/') }}|{{ [none, 1, 'a']|join('-') }}",
    "{{ items|sort }}|{{ items|sort(reverse=true) }}|{{ words|sort }}|{{ words|sort(case_sensitive=true) }}|{{ words|unique|list }}|{{ words|unique(case_sensitive=true)|list }}",
    "{{ d|dictsort }}|{{ d|dictsort(true) }}|{{ d|dictsort(by='value', reverse=true) }}|{{ d|items|list }}|{{ d.items()|list }}|{{ d.keys()|list }}|{{ d.values()|list }}",
    "{{ items|first }} {{ items|last }} {{ items|min }} {{ items|max }} {{ items|sum }} {{ items|reverse|list }} {{ 'abc'|reverse }} {{ items|length }} {{ d|length }} {{ items|count }}",
    "{{ empty|first }}|{{ nothing|default('dflt') }}|{{ missing|default('dflt') }}|{{ ''|default('dflt', true) }}|{{ ''|default('dflt') }}|{{ missing|d('x') }}",
    "{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}|{{ messages|selectattr('tool_calls')|list|length }}|{{ messages|selectattr('tool_calls', 'defined')|map(attribute='role')|first }}",
    "{{ items|select('odd')|list }}|{{ items|reject('odd')|list }}|{{ [0, 1, '', 'a', none]|select|list }}|{{ words|map('upper')|list }}|{{ messages|map(attribute='nope', default='-')|list }}",
    "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.4|round(0, 'ceil') }}",
    "{{ 42|string }} {{ (42|string) ~ 'x' }} {{ [1, 2]|string }} {{ none|string }} {{ 'x'|safe }} {{ '<a>'|e }} {{ '<a>'|escape }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(width='> ', blank=true) }}|{{ ''|indent(first=true) }}",
    "{{ 'hello world'|replace('o', '0') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '-') }}|{{ s|wordcount }}|{{ '%s-%d'|format('a', 3) }}|{{ 'x=%r' % 'y' }}|{{ '%05.1f' % 3.14159 }}",
    "{{ tools|tojson }}",
    "{{ messages[2]|tojson }}|{{ messages[2]|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ 'é \"q\" \\n \\u2028 <>'|tojson }}|{{ [1.0, 1e-7, 1e20, 0.1, none, true]|tojson }}",
    "{{ {'a': 1}|tojson(separators=(',', ':')) }}|{{ d|tojson(indent=0) }}|{{ []|tojson(indent=2) }}|{{ {}|tojson(indent='\\t') }}|{{ (1, 2)|tojson }}",
    "{{ items|batch(2)|list }}|{{ 'hi'|center(6) }}|{{ '<b>x</b>'|striptags }}|{{ d|list }}|{{ 'ab'|list }}",
    # string and dict methods
    "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ s.upper() }}|{{ s.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}",
    "{{ 'a,b,,c'.split(',') }}|{{ '  a  b c '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|{{ 'a-b'.split('-')[1] }}",
    "{{ s.startswith('  He') }} {{ s.endswith('!  ') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'hello'.replace('l', 'L') }} {{ '-'.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.count('l') }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }}",
    "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ messages[0].get('role') }} {{ items.index(2) }}",
    # set, namespace, loops
    "{% set x = 1 %}{% set y, z = 2, 3 %}{{ x }}{{ y }}{{ z }}{% set t = (4, 5) %}{% set a, b = t %}{{ a + b }}",
    "{% set ns = namespace(count=0, found=false) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}",
    "{% set c = 0 %}{% for i in items %}{% set c = c + i %}{{ c }},{% endfor %}{{ c }}",
    "{% for i in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}",
    "{% for i in items if i > 1 %}{{ i }}:{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}|{% for i in empty %}x{% else %}empty{% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'abc' %}{{ c }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.cycle('o', 'e') }} {% endfor %}{% endfor %}",
    "{{ range(5)|list }} {{ range(2, 8, 3)|list }} {{ range(5, 0, -2)|list }}",
    "{% set content %}block {{ n }}{% endset %}[{{ content }}]{% set up | upper %}shout{% endset %}{{ up }}",
    # macros and call blocks
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet() }}",
    "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inside {{ n }}{% endcall %}",
    "{% macro list_args() %}{{ varargs }} {{ kwargs }}{% endmacro %}{{ list_args(1, 2, x=3) }}",
    "{% macro render(v) %}{% if v is mapping %}{% for k, x in v.items() %}{{ k }}:{{ render(x) }};{% endfor %}{% else %}{{ v }}{% endif %}{% endmacro %}{{ render({'a': {'b': 1}, 'c': 2}) }}",
    "{% filter upper %}shout {{ n }}{% endfilter %}",
    "{% generation %}gen {{ n }}{% endgeneration %}",
    # globals
    "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %y %I%p') }}",
    "{{ dict(a=1, b=2) }} {{ namespace(a=1).a }}",
    "{{ raise_exception('boom: ' ~ n) }}",
    # errors
    "{{ undefined_thing.attr }}",
    "{{ d.missing.deeper }}",
    "{{ 'a' + 1 }}",
    "{{ none + 1 }}",
    "{% for x in nothing %}{% endfor %}",
    "{{ 1 < 'a' }}",
    "{{ missing + 1 }}",
    "{{ missing() }}",
    "{{ n() }}",
    "{{ 1 in n }}",
    "{{ 1 / 0 }}",
    "{% set a, b = [1, 2, 3] %}",
    "{{ nothing|tojson }}{{ missing|tojson }}",
    "{{ {'a': 1}|items|list }}",
    "{% for %}",
    "{{ 'unterminated }}",
    "{% if true %}no end",
    "{% endfor %}",
    "{{ 1 + }}",
    "{{ x | nosuchfilter }}",
]


def main(out_path):
    cases = []
    for i, source in enumerate(TEMPLATES):
        case = {"id": i, "template": source}
        try:
            case["expected"] = env.from_string(source).render(**CTX)
        except jinja2.exceptions.TemplateSyntaxError as e:
            case["error_type"] = "TemplateSyntaxError"
            case["error"] = str(e)
        except Exception as e:  # noqa: BLE001 - the class name is the point
            case["error_type"] = type(e).__name__
            case["error"] = str(e)
        cases.append(case)
    about = ("Feature cases for the Jinja renderer, written for this project and rendered by jinja2 %s in "
             "transformers' environment (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, "
             "the generation tag, json.dumps tojson, raise_exception, strftime_now fixed to 2026-11-22T00:00:00) "
             "by scripts/gen-jinja-features.py with the context below." % jinja2.__version__)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"about": about, "context": CTX, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases written to {out_path}")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "Tests", "CrynuxSDKTests", "Fixtures", "jinja-features.json"))
