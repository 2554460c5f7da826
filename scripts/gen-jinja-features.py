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


# Every filter and test on `none`, undefined names and attributes, and generators (map, select, reverse,
# items, unique, batch, slice), dict views and ranges, chained into the filters that consume them.
TEMPLATES += [
    # string filters on none and undefined
    "{{ none|upper }}|{{ missing|upper }}|{{ d.missing|lower }}|{{ none|lower }}|{{ none|capitalize }}|{{ missing|capitalize }}|{{ none|title }}|{{ d.missing|title }}",
    "{{ none|trim }}|{{ missing|trim }}|{{ d.missing|trim('x') }}|{{ none|center(8) }}|{{ missing|center(4) }}|{{ none|striptags }}|{{ missing|striptags }}",
    "{{ none|replace('o', '0') }}|{{ missing|replace('a', 'b') }}|{{ none|wordcount }}|{{ missing|wordcount }}|{{ none|format }}|{{ missing|format }}|{{ '%s'|format(none) }}",
    "{{ none|string }}|{{ missing|string }}|{{ d.missing|string }}|{{ none|e }}|{{ missing|escape }}|{{ none|safe }}|{{ missing|safe }}|{{ none|forceescape }}|{{ missing|forceescape }}",
    "{{ none|indent }}",
    "{{ missing|indent }}",
    "{{ d.missing|indent(2, true) }}",
    # length, count, first, last, list, reverse
    "{{ missing|length }}|{{ d.missing|count }}|{{ missing|first }}|{{ missing|last }}|{{ missing|list }}|{{ missing|reverse|list }}|{{ d.missing|list|length }}",
    "{{ none|length }}",
    "{{ none|count }}",
    "{{ none|first }}",
    "{{ none|last }}",
    "{{ none|list }}",
    "{{ none|reverse }}",
    "{{ none|join }}",
    "{{ missing|join(', ') }}|{{ d.missing|join }}|{{ [none, missing, 1]|join('-') }}|{{ [none, d.missing]|join(',') }}",
    # sort, unique, min, max, sum
    "{{ missing|sort }}|{{ missing|unique|list }}|{{ missing|min }}|{{ missing|max }}|{{ missing|sum }}|{{ d.missing|sum(start=5) }}",
    "{{ none|sort }}",
    "{{ none|unique|list }}",
    "{{ none|min }}",
    "{{ none|max }}",
    "{{ none|sum }}",
    "{{ [none, none]|sort }}|{{ [none, 1, none]|unique|list }}|{{ [none]|min }}|{{ [none]|max }}",
    "{{ [none, 1]|sort }}",
    "{{ [1, none]|min }}",
    "{{ [1, missing]|sum }}",
    "{{ [1, none]|sum }}",
    "{{ empty|min is defined }}|{{ empty|max }}|{{ empty|sum }}|{{ empty|first is undefined }}|{{ empty|last is undefined }}",
    "{{ (empty|min) + 1 }}",
    "{{ words|min }}|{{ words|max }}|{{ ['B', 'b', 'a']|max }}|{{ ['b', 'B']|min }}|{{ words|min(case_sensitive=true) }}|{{ words|max(true) }}|{{ messages|max(attribute='role')|tojson }}|{{ (messages|min(attribute='role')).role }}|{{ [d, {'a': 0}]|min(attribute='a') }}",
    # default on none, undefined, generators
    "{{ none|default('x') }}|{{ none|default('x', true) }}|{{ missing|default(none) }}|{{ d.missing|default(missing) }}|{{ d.missing|d }}|{{ empty|d('e', true) }}|{{ (items|select('odd'))|default('x', true)|list }}|{{ (empty|select)|default('x', true)|list }}",
    # dictsort and items
    "{{ missing|dictsort }}",
    "{{ none|dictsort }}",
    "{{ missing|items|list }}|{{ d.missing|items|list }}|{{ d|items|first }}|{{ {}|items|list }}",
    "{{ none|items|list }}",
    "{{ items|items|list }}",
    "{{ d|dictsort(by='value')|first }}|{{ d|dictsort(false, 'key', true) }}",
    "{{ d|dictsort(by='nope') }}",
    # int, float, abs, round on none and undefined
    "{{ none|int }}|{{ none|int(5) }}|{{ none|float }}|{{ none|float(1.5) }}|{{ ''|int }}|{{ ' 12 '|int }}|{{ '1_000'|int }}|{{ '0x1A'|int(base=16) }}|{{ '0x1A'|int(0, 16) }}|{{ '1e3'|int }}|{{ true|int }}|{{ true|float }}",
    "{{ missing|int }}",
    "{{ d.missing|float }}",
    "{{ none|abs }}",
    "{{ missing|abs }}",
    "{{ none|round }}",
    "{{ missing|round }}",
    "{{ 3|round }}|{{ 3|round(2) }}|{{ -3|round(0, 'floor') }}|{{ 2.5|round(0, 'floor') }}|{{ true|round }}|{{ 7|round(-1) }}|{{ 15.0|round(-1) }}|{{ 1234.5678|round(-2) }}",
    "{{ 2.5|round(0, 'up') }}",
    "{{ 3|abs }}|{{ -2.5|abs }}|{{ false|abs }}|{{ -0.0|abs }}",
    # batch and slice
    "{{ items|batch(2)|list }}|{{ items|batch(2, 0)|list }}|{{ missing|batch(2)|list }}|{{ [1, 2, 3, 4, 5]|slice(2)|list }}|{{ [1, 2, 3, 4, 5]|slice(3, 'x')|list }}|{{ missing|slice(2)|list }}|{{ empty|batch(3)|list }}",
    "{{ none|batch(2)|list }}",
    "{{ none|slice(2)|list }}",
    # attr
    "{{ d|attr('a') }}|{{ d|attr('missing') is undefined }}|{{ d|attr('items') is callable }}|{{ none|attr('x') is undefined }}|{{ messages[0]|attr('role') is defined }}",
    "{{ missing|attr('x') }}",
    # map, select, reject, selectattr, rejectattr on none and undefined
    "{{ none|map('upper')|list }}|{{ missing|map('upper')|list }}|{{ none|select|list }}|{{ missing|reject('odd')|list }}|{{ none|selectattr('a')|list }}|{{ d.missing|rejectattr('a')|list }}|{{ empty|map('int')|list }}",
    "{{ [none, missing]|map('string')|list }}|{{ [none, 0, '']|select('none')|list }}|{{ [none, 1]|reject('none')|list }}|{{ [none, 1, 2]|select('defined')|list }}",
    "{{ messages|selectattr('tool_calls', 'undefined')|map(attribute='role')|join(',') }}|{{ messages|rejectattr('tool_call_id', 'none')|map(attribute='role')|join(',') }}|{{ messages|map(attribute='tool_calls')|select('defined')|list|length }}",
    "{{ messages|map(attribute='tool_calls.0.id', default='-')|join(',') }}|{{ messages|map(attribute='content.0.type', default='?')|join(',') }}",
    "{{ messages|map(attribute='tool_calls.0.id')|join(',') }}",
    "{{ [none, 1]|select('odd')|list }}",
    "{{ ['a', 1]|select('odd')|list }}",
    "{{ [1, 'a']|select('odd')|first }}",
    "{{ [d, none]|map(attribute='a')|list }}",
    "{{ [d, missing]|map(attribute='a')|list }}",
    # tests on none and undefined
    "{{ none is sequence }}|{{ missing is sequence }}|{{ none is iterable }}|{{ missing is iterable }}|{{ none is mapping }}|{{ missing is mapping }}|{{ none is callable }}|{{ missing is callable }}|{{ d.missing is callable }}",
    "{{ none is string }}|{{ missing is string }}|{{ none is number }}|{{ missing is number }}|{{ none is integer }}|{{ none is float }}|{{ missing is boolean }}|{{ none is false }}|{{ missing is true }}|{{ none is escaped }}|{{ missing is escaped }}|{{ (none|e) is escaped }}",
    "{{ none is lower }}|{{ none is upper }}|{{ missing is lower }}|{{ missing is upper }}|{{ 'NONE' is upper }}|{{ '123' is lower }}|{{ '1a' is lower }}|{{ ['a'] is lower }}|{{ {'A': 1} is upper }}|{{ 'ß' is lower }}",
    "{{ none is eq none }}|{{ missing is eq missing }}|{{ missing is eq none }}|{{ none is ne 0 }}|{{ d.missing is eq missing }}|{{ missing is in items }}|{{ none is in [none] }}|{{ 1 is in missing }}|{{ 'a' is in d.missing }}",
    "{{ none is sameas none }}|{{ missing is sameas missing }}|{{ true is sameas true }}|{{ 1 is sameas true }}|{{ d is sameas d }}|{{ items is sameas items }}|{{ 0 is sameas false }}",
    "{{ 'upper' is filter }}|{{ 'nosuch' is filter }}|{{ none is filter }}|{{ 'odd' is test }}|{{ 'nosuch' is test }}|{{ missing is test }}|{{ 'tojson' is filter }}|{{ 'sameas' is test }}",
    "{{ none is odd }}",
    "{{ none is even }}",
    "{{ missing is odd }}",
    "{{ none is divisibleby 2 }}",
    "{{ d.missing is divisibleby 2 }}",
    "{{ 7 is divisibleby 0 }}",
    "{{ 'a' is odd }}",
    "{{ 3.0 is odd }}|{{ 4.0 is even }}|{{ 7.5 is divisibleby 2.5 }}|{{ true is odd }}|{{ -3 is odd }}|{{ -4 is even }}",
    "{{ none is lt 1 }}",
    "{{ missing is gt 1 }}",
    "{{ 1 is in none }}",
    "{{ none is in 'abc' }}",
    # generators: tests and truthiness
    "{{ items|map('string') is sequence }}|{{ items|select('odd') is iterable }}|{{ items|reject('odd') is mapping }}|{{ items|map('int') is defined }}|{{ items|select is none }}|{{ items|unique is string }}|{{ items|batch(2) is callable }}",
    "{{ d.items() is sequence }}|{{ d.keys() is iterable }}|{{ d.values() is mapping }}|{{ range(3) is sequence }}|{{ range(3) is iterable }}|{{ d|items is sequence }}|{{ items|reverse is sequence }}|{{ 'ab'|reverse is string }}",
    "{{ 'y' if empty|select else 'n' }}|{{ 'y' if empty|map('string') else 'n' }}|{{ 'y' if {}.items() else 'n' }}|{{ 'y' if range(0) else 'n' }}|{{ 'y' if range(2) else 'n' }}|{{ 'y' if empty|reverse else 'n' }}|{{ not (empty|select) }}",
    "{% if messages|selectattr('role', 'eq', 'nobody') %}always{% endif %}|{% if messages|selectattr('role', 'eq', 'nobody')|list %}never{% endif %}",
    # generators: printing deterministic objects
    "{{ range(3) }}|{{ range(2, 8, 3) }}|{{ range(5, 0, -2) }}|{{ range(0) }}|{{ d.items() }}|{{ d.keys() }}|{{ d.values() }}|{{ {}.items() }}",
    "{{ [range(2)] }}|{{ (d.keys(),) }}|{{ range(3)|string }}|{{ d.items()|string }}|{{ range(3) ~ '' }}",
    # generators into first, last, length, count
    "{{ items|map('string')|first }}|{{ items|select('odd')|first }}|{{ empty|select|first is undefined }}|{{ d|items|first }}|{{ d.items()|first }}|{{ range(3)|first }}|{{ words|unique|first }}",
    "{{ d.items()|last }}|{{ d.keys()|last }}|{{ d.values()|last }}|{{ range(3)|last }}|{{ range(0)|last is undefined }}|{{ d|reverse|first }}|{{ words|reverse|first }}",
    "{{ items|reverse|last }}",
    "{{ items|map('string')|last }}",
    "{{ items|select('odd')|last }}",
    "{{ d|items|last }}",
    "{{ words|unique|last }}",
    "{{ d.items()|length }}|{{ d.keys()|count }}|{{ range(7)|length }}|{{ range(1, 10, 4)|count }}|{{ {}.values()|length }}",
    "{{ items|map('string')|length }}",
    "{{ items|select('odd')|count }}",
    "{{ messages|selectattr('role', 'eq', 'user')|length }}",
    "{{ items|reverse|length }}",
    "{{ items|batch(2)|length }}",
    "{{ d|items|count }}",
    # generators into join, list, sort, unique, min, max, sum, reverse, batch
    "{{ items|map('string')|join('+') }}|{{ items|select('odd')|join }}|{{ d.keys()|join(',') }}|{{ d|items|join(';') }}|{{ range(4)|join('.') }}|{{ messages|selectattr('role', 'eq', 'user')|map(attribute='role')|join(' ') }}",
    "{{ items|select('odd')|list }}|{{ d.items()|list }}|{{ range(2)|list }}|{{ items|reverse|list }}|{{ (1, 2)|reverse|list }}|{{ d|reverse|list }}|{{ d.items()|reverse|list }}|{{ range(3)|reverse|list }}|{{ items|select|reverse|list }}",
    "{{ items|map('int')|sort }}|{{ d.values()|sort(reverse=true) }}|{{ words|select('lower')|sort }}|{{ d.keys()|sort }}|{{ range(3)|sort(reverse=true) }}|{{ messages|map(attribute='role')|unique|list }}|{{ d.values()|unique|list }}",
    "{{ items|select('odd')|min }}|{{ items|reject('odd')|max }}|{{ d.values()|max }}|{{ range(5)|min }}|{{ d.keys()|max }}|{{ empty|select|min is undefined }}|{{ items|map('int')|sum }}|{{ d.values()|sum }}|{{ range(5)|sum(start=10) }}|{{ d|items|map('last')|sum }}",
    "{{ items|map('string')|batch(2)|list }}|{{ range(5)|batch(2)|map('sum')|list }}|{{ items|select|slice(2)|list }}|{{ d.items()|batch(2)|first }}",
    "{{ items|map('int')|batch(2)|map('length')|list }}|{{ d.keys()|map('upper')|list }}|{{ range(3)|map('string')|join }}|{{ words|reject('upper')|map('upper')|unique|list }}|{{ items|map('string')|select('ne', '1')|reject('eq', '2')|list }}",
    # generators into tojson
    "{{ range(3)|list|tojson }}|{{ items|select('odd')|list|tojson }}|{{ d.items()|list|tojson }}",
    "{{ items|map('string')|tojson }}",
    "{{ d.items()|tojson }}",
    "{{ range(3)|tojson }}",
    "{{ items|reverse|tojson }}",
    "{{ messages|selectattr('role', 'eq', 'user')|tojson }}",
    "{{ {'k': items|select('odd')}|tojson }}",
    # generators into dictsort and items
    "{{ d.items()|dictsort }}",
    "{{ items|select|dictsort }}",
    "{{ d.items()|items|list }}",
    "{{ items|map('string')|items|list }}",
    "{{ dict(d.items())|dictsort }}|{{ d|dictsort|map('first')|list }}|{{ d|items|map('last')|list }}",
    # generators are consumed once; views and ranges are not
    "{% set g = items|select('odd') %}{{ g|list }}{{ g|list }}|{% set r = range(2) %}{{ r|list }}{{ r|list }}|{% set v = d.keys() %}{{ v|list }}{{ v|list }}",
    "{% set g = items|map('string') %}{{ g|first }}{{ g|first }}{{ g|list }}|{% set h = items|reverse %}{{ h|first }}{{ h|list }}",
    "{% set g = words|unique %}{% for w in g %}{{ w }}{% endfor %}/{% for w in g %}{{ w }}{% else %}spent{% endfor %}",
    "{% set g = items|select %}{{ 1 in g }}{{ g|list }}|{% set h = items|select %}{{ 9 in h }}{{ h|list }}|{{ 1 in range(3) }}{{ 'a' in d.keys() }}{{ ('a', 1) in d.items() }}",
    "{% set g = items|map('string') %}{% set a, b, c = g %}{{ c }}{{ a }}|{% set x, y = range(2) %}{{ x }}{{ y }}|{% set k, v = d.items()|first %}{{ k }}{{ v }}",
    # generators: indexing, attributes, comparison, default, string methods
    "{{ (items|select)[0] is undefined }}|{{ range(5)[2] }}|{{ range(5)[-1] }}|{{ d.items()[0] is undefined }}|{{ (items|select).x is undefined }}|{{ range(3).start is defined }}",
    "{{ (items|select) == (items|select) }}|{{ range(3) == range(0, 3) }}|{{ range(2) == [0, 1] }}|{{ d.keys() == d.keys() }}|{{ (items|select|list) == [3, 1, 2] }}",
    "{{ '-'.join(items|map('string')) }}|{{ ','.join(d.keys()) }}|{{ ''.join(range(3)|map('string')) }}|{{ (items|map('string')|list)[0] }}",
    "{% for i in items|select('odd') %}{{ loop.index }}/{{ loop.length }}{{ loop.last }} {% endfor %}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}",
    "{% for a, b in items|batch(2) %}{{ a }}{{ b }}{% endfor %}",
    "{{ items|map('string')|map('int')|select('gt', 1)|map('string')|join(',') }}|{{ d|dictsort|map('last')|select('odd')|list }}|{{ messages|map(attribute='role')|select('in', ['user', 'tool'])|unique|list }}",
    # sort and unique attributes, including dotted and comma-separated paths
    "{{ messages|sort(attribute='role')|map(attribute='role')|join(',') }}|{{ messages[:4]|sort(attribute='role,content')|map(attribute='content')|first }}|{{ messages|unique(attribute='role')|map(attribute='role')|join(',') }}|{{ [[2, 'b'], [1, 'a']]|sort(attribute='0')|first }}|{{ [[2, 'b'], [1, 'a']]|sort(attribute=1)|first }}",
    "{{ messages|sort(attribute='nope')|map(attribute='role')|join(',') }}|{{ messages|sort(attribute='nope', reverse=true)|map(attribute='role')|first }}",
    "{{ messages|sort(attribute='tool_call_id') }}",
]

# More of the same: int and float parsing, round on integers, wordcount, filter arguments, views and ranges.
TEMPLATES += [
    "{{ 'inf'|int }}|{{ '-infinity'|int(7) }}|{{ (f * 1e308 * 1e308)|float }}",
    "{{ (f * 1e308 * 1e308)|int }}",
    "{{ 'nan'|int }}|{{ ' 0b101 '|int(0) }}|{{ '010'|int(base=0) }}|{{ '1_0.5'|float }}|{{ '0x1A'|float }}|{{ ' -inf '|float }}|{{ 'NaN'|float }}|{{ '1e'|float(-1) }}|{{ '_1'|int(-1) }}|{{ 'ff'|int(base=16) }}|{{ 12.9|int }}|{{ -12.9|int }}",
    "{{ 25|round(-1) }}|{{ -25|round(-1) }}|{{ 35|round(-1) }}|{{ 7|round(-20) }}|{{ 5|round(1, 'ceil') }}|{{ -2.5|round }}|{{ 0.5|round }}|{{ 1.5|round }}",
    "{{ 'a-b c_d é 42'|wordcount }}|{{ ''|wordcount }}|{{ '--'|wordcount }}|{{ ['A', 'a', 'B']|unique|list }}|{{ ['A', 'a']|unique(true)|list }}|{{ messages|unique(attribute='role')|list|length }}",
    "{% for i in items %}{{ loop|length }}{{ loop is callable }}{{ loop is iterable }} {% endfor %}",
    "{{ items|map(attribute='x', foo=1)|list }}",
    "{{ items|map|list }}",
    "{{ messages|selectattr|list }}",
    "{{ items|batch(0)|list }}|{{ items|batch(-1)|list }}|{{ items|slice(-1)|list }}|{{ items|slice(5)|list }}|{{ items|slice(2, 0)|list }}",
    "{{ items|slice(0)|list }}",
    "{{ 'abc' % [1] }}|{{ 'abc' % {'a': 1} }}|{{ '%s' % [1] }}|{{ '%s %s' % (1, 2) }}",
    "{{ 'abc' % 5 }}",
    "{{ 7 % 0 }}",
    "{{ (items|select|list) is sequence }}|{{ 'a' is sameas 'a' }}|{{ 1 is sameas 1 }}|{{ 1.0 is sameas 1 }}|{{ none is sameas false }}",
    "{{ d.items()|map('list')|list }}|{{ d.values()|select('odd')|list }}|{{ d.keys()|reject('upper')|list }}|{{ d.items()|selectattr(1, 'gt', 1)|map('first')|list }}",
    "{{ d.keys()|first }}|{{ d.keys()|first }}|{{ d.items()|list|length }}|{{ d.items()|list|length }}|{{ range(3)|first }}{{ range(3)|first }}",
    "{{ d|attr('get') is callable }}|{{ d|attr('keys') is callable }}|{{ range(4)|attr('stop') }}|{{ range(4).step }}|{{ d.items().x is undefined }}",
    "{{ (items|map('string')).x }}|{{ range(3)['a'] is undefined }}",
    "{{ range(3) + [1] }}",
    "{{ items|select + [1] }}",
    "{{ items|select < items|select }}",
    "{% set ns = namespace(a=1) %}{% set ns.me = ns %}{% set ns.l = [ns, d.keys()] %}{{ ns }}|{{ [ns] }}",
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
