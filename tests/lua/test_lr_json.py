"""JSON.lua: round trips from Python through Lua 5.1 and back (property-based), strict
decoding with positioned errors, arrays vs objects, null, and no global leaks."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st
from lupa import lua51

from lrsim import PLUGIN_DIR, use_decimal_comma

JSON_LUA = PLUGIN_DIR / "JSON.lua"


@pytest.fixture(scope="module", params=["C", "decimal comma"])
def lua(request):
    """JSON.lua as Lightroom runs it: under the C locale, and under a German/French/Brazilian
    one, where Lua's own tostring/format/tonumber write and read "0,5"."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    if request.param == "decimal comma":
        use_decimal_comma(runtime)
    module = runtime.execute(JSON_LUA.read_text(encoding="utf-8"))
    runtime.globals().JSON = module
    return runtime


@pytest.fixture(scope="module")
def through_lua(lua):
    """Text -> Lua (decode) -> text (encode)."""
    return lua.eval("function(text) return JSON.encode(JSON.decode(text)) end")


@pytest.fixture(scope="module")
def decode_error(lua):
    return lua.eval("function(text) local ok, err = pcall(JSON.decode, text) if ok then return nil end return err end")


# Integers Lua's doubles hold exactly, any finite float, text without lone surrogates.
scalars = (st.none() | st.booleans() | st.integers(min_value=-2**53 + 1, max_value=2**53 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text())
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_round_trip_python_lua_python(through_lua, doc, ascii_only) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    back = json.loads(through_lua(text))
    assert back == doc
    assert _shape(back) == _shape(doc)   # [] stays [], {} stays {}


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_strings_with_escapes_and_astral_characters(through_lua, s) -> None:
    for text in (json.dumps(s), json.dumps(s, ensure_ascii=False)):
        assert json.loads(through_lua(text)) == s


def _shape(v):
    if isinstance(v, list):
        return ["list", [_shape(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", {k: _shape(x) for k, x in v.items()}]
    return type(v).__name__ if not isinstance(v, (int, float)) or isinstance(v, bool) else "number"


def test_surrogate_pairs_decode_to_utf8(lua) -> None:
    decoded = lua.eval('JSON.decode([["\\ud83d\\ude00 \\u00e9\\u20ac \\/ \\b\\f\\n\\r\\t"]])')
    assert decoded == "\U0001F600 é€ / \b\f\n\r\t"


@pytest.mark.parametrize("text, where", [
    ("[1,]", "trailing comma"), ('{"a":1,}', "trailing comma"), ("01", "leading zero"),
    ("1.", "after '.'"), ("1e", "exponent"), ("-", "invalid number"), ("nul", "unexpected"),
    ('"\\ud800"', "lone high surrogate"), ('"\\udc00"', "lone low surrogate"),
    ('"\\ud800\\u0041"', "low surrogate"), ('"\\x"', "invalid escape"), ('"a\x01"', "control character"),
    ('"abc', "unterminated"), ("[1] 2", "after the JSON value"), ("", "end of text"),
    ("NaN", "unexpected"), ("{1:2}", "string key"), ('{"a" 1}', "':'"), ("[1 2]", "',' or ']'"),
    ("[" * 600 + "]" * 600, "nesting deeper"),
])
def test_invalid_json_is_refused_with_its_position(decode_error, text, where) -> None:
    err = decode_error(text)
    assert err is not None, f"accepted {text!r}"
    assert err.startswith("JSON: ") and where in err and "character" in err


def test_arrays_objects_and_null(lua) -> None:
    run = lua.eval("function(code) return assert(loadstring(code))() end")
    assert run('return JSON.encode({})') == "{}"
    assert run('return JSON.encode(JSON.array())') == "[]"
    assert run('return JSON.encode({1, 2, "x"})') == '[1,2,"x"]'
    assert run('return JSON.encode({[1] = "a", [3] = "c"})') == '{"1":"a","3":"c"}'   # sparse: object
    assert run('return JSON.encode({b = 1, a = {true, false, JSON.null}})') == '{"a":[true,false,null],"b":1}'
    assert run('return JSON.encode(JSON.decode("[]"))') == "[]"
    assert run('return JSON.encode(JSON.decode("{}"))') == "{}"
    assert run('return JSON.decode("null") == JSON.null')
    assert run('local t = JSON.decode(\'{"a": null, "b": [null]}\') return t.a == JSON.null and t.b[1] == JSON.null')
    assert run('local t = JSON.decode(\'{"a": null, "b": 2}\', { dropNulls = true }) return t.a == nil and t.b == 2')


def test_numbers(lua) -> None:
    enc = lua.eval("JSON.encode")
    assert enc(3.0) == "3" and enc(-0.5) == "-0.5" and enc(2**53 + 2) == "9007199254740994"
    assert float(enc(0.1)) == 0.1 and float(enc(1 / 3)) == 1 / 3 and float(enc(1e300)) == 1e300
    assert enc(lua.table(0.35, 23.976)) == "[0.35,23.976]" and enc(-1.5e-300) == "-1.5e-300"
    dec = lua.eval("JSON.decode")
    assert dec("0.5") == 0.5 and dec("23.976") == 23.976 and dec("-2.5e-3") == -0.0025 and dec("7") == 7
    to_number = lua.eval("JSON.toNumber")
    assert to_number("2.5") == 2.5 and to_number("12") == 12 and to_number("2,5") is None
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(Exception, match="not a finite number"):
            enc(bad)


def test_encode_refuses_what_json_cannot_hold(lua) -> None:
    err = lua.eval("function(code) local ok, e = pcall(assert(loadstring(code))) return e end")
    assert "function at $.f" in err("JSON.encode({ f = print })")
    assert "contains itself" in err("local t = {} t.self = t JSON.encode(t)")
    assert "boolean key" in err("JSON.encode({ [true] = 1 })")
    assert "appears twice" in err('JSON.encode({ [1] = "a", ["1"] = "b", x = 1 })')


def test_loading_defines_no_globals_and_touches_no_library(lr) -> None:
    module, leaked = lr.fake.isolatedLoad(str(JSON_LUA))
    assert list(leaked.values()) == []
    assert module.encode is not None and module.decode is not None
    # A strict environment: reading or writing any undeclared global is an error.
    runtime = lua51.LuaRuntime()
    strict = runtime.eval("""function(src)
        local env = { string = string, table = table, math = math, pairs = pairs, ipairs = ipairs,
          type = type, tostring = tostring, tonumber = tonumber, error = error, select = select,
          setmetatable = setmetatable, getmetatable = getmetatable, pcall = pcall }
        setmetatable(env, { __index = function(_, k) error("read of global " .. k) end,
                            __newindex = function(_, k) error("write of global " .. k) end })
        local chunk = assert(loadstring(src))
        setfenv(chunk, env)
        local J = chunk()
        return J.encode(J.decode('{"a":[1,"\\\\u00e9",null,{"b":false}]}'))
    end""")
    assert strict(JSON_LUA.read_text(encoding="utf-8")) == '{"a":[1,"é",null,{"b":false}]}'


# Single-byte locales in which the C library's iscntrl (Lua's %c) takes bytes 0x80-0x9F.
LATIN1_LOCALES = ["de_DE.ISO-8859-1", "de_DE.iso88591", "fr_FR.ISO-8859-1", "pt_BR.ISO-8859-1",
                  "en_US.ISO-8859-1", "de_DE", "fr_FR", "pt_BR"]


@pytest.fixture
def latin1_ctype():
    import locale

    before = locale.setlocale(locale.LC_CTYPE)
    for name in LATIN1_LOCALES:
        try:
            locale.setlocale(locale.LC_CTYPE, name)
        except locale.Error:
            continue
        if locale.nl_langinfo(locale.CODESET).replace("-", "").upper() == "ISO88591":
            break
    else:
        locale.setlocale(locale.LC_CTYPE, before)
        pytest.skip("no Latin-1 locale installed")
    yield
    locale.setlocale(locale.LC_CTYPE, before)


@pytest.mark.parametrize("text", ["Größe", "桜の下で 🌸", "Ação €", "Ünïcödé Ñandú"])
def test_utf8_text_is_kept_whatever_the_c_librarys_character_classes(latin1_ctype, text) -> None:
    """Lightroom sets the C library's locale from the OS: under a single-byte locale, %c (and
    iscntrl) also took the bytes 0x80-0x9F inside "ß", "桜" or "の" and the encoder escaped
    them one by one, so the daemon got broken text ("field 'settings' is not valid text")."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True, encoding=None)
    module = runtime.execute(JSON_LUA.read_bytes())
    encoded = module.encode(text.encode())
    assert json.loads(encoded.decode("utf-8")) == text
    assert module.decode(json.dumps(text, ensure_ascii=False).encode()) == text.encode()
