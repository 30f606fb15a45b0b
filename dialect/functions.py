"""SQLite's scalar functions: one table from function name to implementation.

:data:`FUNCTIONS` maps an upper-case SQL function name to a :class:`Function`; the expression
compiler (dialect.expr) looks a call up here, and :func:`call_of` turns the sqlglot nodes that
sqlglot's SQLite reader makes of some calls (``strftime`` is ``TimeToStr``, ``instr`` is
``StrPosition``, ``max(a, b)`` is ``Greatest``, ``x -> '$.a'`` is ``JSONExtract``...) back into
a name and its arguments, so every call reaches the same implementation.

Dates and times follow SQLite's ``date.c``: a moment is a Julian day number in milliseconds
(``iJD``); text, numbers (Julian days, or Unix seconds with the ``'unixepoch'`` modifier) and
Strata's DATE / TIMESTAMP / TIME values (Python ``date``, ``datetime``, ``time``) are read, and
the results are text as in SQLite. There is no time zone: ``'localtime'`` and ``'utc'`` leave a
moment as it is (local time is taken to be UTC), and an aware ``datetime`` is read in UTC.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlglot import exp

from dialect.convert import to_number_lenient, to_text, typeof
from dialect.errors import DataError, OperationalError, ProgrammingError
from dialect.values import SQLValue, compare

Row = tuple[Any, ...]  # Any: SQL values
#: a compiled expression (dialect.expr.Fn); Any: the run context
Fn = Callable[[Row, Any], SQLValue]


@dataclass(frozen=True)
class Function:
    """A scalar function: ``impl`` takes the argument values; with ``strict``, a NULL argument
    makes the result NULL without calling it."""

    impl: Callable[..., SQLValue]
    min_args: int = 0
    max_args: int | None = None  # None: any number
    strict: bool = True
    #: ``impl`` takes the run context (dialect.exec.operators.RunContext) first
    with_context: bool = False


# -- date and time ----------------------------------------------------------------------------

_MS_PER_DAY = 86_400_000
_UNIX_EPOCH_JD = 210_866_760_000_000  # iJD of 1970-01-01 00:00:00
_MAX_JD = 464_269_060_799_999  # iJD of 9999-12-31 23:59:59.999
_NO_JD = -(2**62)  # a number out of the Julian day range, until 'unixepoch' reads it
_TIME_RE = re.compile(r"(\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?")
_DATE_RE = re.compile(r"(-?)(\d{4})-(\d\d)-(\d\d)")
_TZ_RE = re.compile(r"\s*(?:([Zz])|([+-])(\d\d):(\d\d))\s*$")
_NUMBER_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _jd(y: int, m: int, d: int, ms_of_day: int = 0) -> int:
    """SQLite's computeJD: the iJD of a (possibly overflowing) day and a time of day."""
    if m <= 2:
        y -= 1
        m += 12
    a = int(y / 100)
    b = 2 - a + int(a / 4)
    x1 = 36525 * (y + 4716) // 100
    x2 = 306001 * (m + 1) // 10000
    return (2 * (x1 + x2 + d + b) - 3049) * (_MS_PER_DAY // 2) + ms_of_day


def _ymd(ijd: int) -> tuple[int, int, int]:
    """SQLite's computeYMD."""
    z = int((ijd + 43_200_000) / _MS_PER_DAY)
    a = int((z - 1867216.25) / 36524.25)
    a = z + 1 + a - int(a / 4)
    b = a + 1524
    c = int((b - 122.1) / 365.25)
    d = (36525 * (c & 32767)) // 100
    e = int((b - d) / 30.6001)
    x1 = int(30.6001 * e)
    day = b - d - x1
    month = e - 1 if e < 14 else e - 13
    year = c - 4716 if month > 2 else c - 4715
    return year, month, day


def _ms_of_day(ijd: int) -> int:
    return (ijd + 43_200_000) % _MS_PER_DAY


class Fields(NamedTuple):
    """A moment's parts as parsed (SQLite keeps them, unnormalized, until a modifier)."""

    y: int
    mo: int
    d: int
    h: int = 0
    mi: int = 0
    s: float = 0.0

    def jd(self) -> int:
        return _jd(self.y, self.mo, self.d, _hms_ms(self.h, self.mi, self.s))


def _hms_ms(h: int, mi: int, s: float) -> int:
    return h * 3_600_000 + mi * 60_000 + int(s * 1000 + 0.5)


def _fields_of(ijd: int) -> Fields:
    """SQLite's computeYMD_HMS."""
    h, rem = divmod(_ms_of_day(ijd), 3_600_000)
    mi, sms = divmod(rem, 60_000)
    return Fields(*_ymd(ijd), h, mi, sms / 1000)


def _time_parts(text: str) -> tuple[int, int, float] | None:
    """``HH:MM[:SS[.SSS]]`` as its parts, None if it is not one or out of range."""
    m = _TIME_RE.fullmatch(text)
    if m is None:
        return None
    h, mi = int(m.group(1)), int(m.group(2))
    s = float(m.group(3)) if m.group(3) else 0.0
    if h >= 24 or mi >= 60 or s >= 60:
        return None
    return h, mi, s


def _time_ms(text: str) -> int | None:
    """``HH:MM[:SS[.SSS]]`` as milliseconds, None if it is not one."""
    parts = _time_parts(text)
    return None if parts is None else _hms_ms(*parts)


def _parse_text(text: str) -> tuple[int, Fields | None] | None:
    """A date/time text as an iJD and its parts (none with a time zone): SQLite's
    parseDateOrTime without numbers and 'now'."""
    text = text.strip()
    tz = 0
    tzm = _TZ_RE.search(text)
    if tzm is not None and (":" in text[: tzm.start()] or tzm.group(1)):
        if tzm.group(2):
            sign = -1 if tzm.group(2) == "-" else 1
            tz = sign * (int(tzm.group(3)) * 60 + int(tzm.group(4)))
        text = text[: tzm.start()]
    dm = _DATE_RE.match(text)
    if dm is not None:
        y, mo, d = int(dm.group(2)), int(dm.group(3)), int(dm.group(4))
        if dm.group(1):
            y = -y
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return None
        rest = text[dm.end() :]
        hms: tuple[int, int, float] | None = (0, 0, 0.0)
        if rest:
            if rest[0] not in " \tT":
                return None
            hms = _time_parts(rest[1:].strip())
        if hms is None:
            return None
        fields = Fields(y, mo, d, *hms)
    else:
        hms = _time_parts(text)
        if hms is None:
            return None
        fields = Fields(2000, 1, 1, *hms)
    if tz:
        return fields.jd() - tz * 60_000, None
    return fields.jd(), fields


@dataclass
class _Moment:
    ijd: int
    raw: float | None = None  # the number the value was, until a modifier other than unixepoch
    subsec: bool = False
    fields: Fields | None = None  # the parts as parsed, until a modifier

    def parts(self) -> Fields:
        return self.fields if self.fields is not None else _fields_of(self.ijd)


def _now() -> int:
    now = dt.datetime.now(dt.UTC)
    return _UNIX_EPOCH_JD + int(now.timestamp() * 1000)


def _moment(value: SQLValue) -> _Moment | None:
    """The moment a date/time function's first argument names; None when it names none."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        s = value.second + value.microsecond / 1e6
        f = Fields(value.year, value.month, value.day, value.hour, value.minute, s)
        return _Moment(f.jd(), fields=f)
    if isinstance(value, dt.date):
        f = Fields(value.year, value.month, value.day)
        return _Moment(f.jd(), fields=f)
    if isinstance(value, dt.time):
        s = value.second + value.microsecond / 1e6
        f = Fields(2000, 1, 1, value.hour, value.minute, s)
        return _Moment(f.jd(), fields=f)
    if isinstance(value, int | float | decimal.Decimal):
        r = float(value)
        if not 0 <= r < 5373484.5:
            return _Moment(_NO_JD, r)  # not a Julian day; 'unixepoch' may still read it
        return _Moment(int(r * _MS_PER_DAY + 0.5), r)
    if isinstance(value, str):
        if value.strip().lower() == "now":
            return _Moment(_now())
        found = _parse_text(value)
        if found is not None:
            return _Moment(found[0], fields=found[1])
        if _NUMBER_RE.fullmatch(value):
            return _moment(float(value))
    return None


_UNITS = {
    "second": 1000.0,
    "minute": 60_000.0,
    "hour": 3_600_000.0,
    "day": float(_MS_PER_DAY),
    "month": 30.0 * _MS_PER_DAY,
    "year": 365.0 * _MS_PER_DAY,
}
_MOD_NUMBER_RE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(.*)", re.DOTALL)


def _modify(m: _Moment, modifier: str, first: bool) -> bool:
    """Apply one modifier (SQLite's parseModifier; ``first``: it is the first one); False if
    it is not one or does not apply."""
    z = modifier.lower()  # no spaces around it: SQLite refuses ' +1 day'

    raw, m.raw = m.raw, None
    fields, m.fields = m.fields, None
    if z in ("localtime", "utc"):
        return m.ijd != _NO_JD  # no time zones: local time is UTC
    if z in ("auto", "julianday") and not first:
        return False
    if z in ("unixepoch", "auto", "julianday"):
        if raw is None:
            # 'auto' leaves a moment that was not a number as it is
            m.fields = fields
            return z == "auto"
        if z == "julianday" or (z == "auto" and 0 <= raw < 5373484.5):
            return m.ijd != _NO_JD
        r = raw * 1000 + _UNIX_EPOCH_JD
        if not 0 <= r < _MAX_JD + 1:
            return False
        m.ijd = int(r + 0.5)
        return True
    if z in ("subsec", "subsecond"):
        m.subsec = True
        m.raw, m.fields = raw, fields
        return True
    if m.ijd == _NO_JD:
        return False
    if z.startswith("weekday "):
        try:
            n = float(z[8:])
        except ValueError:
            return False
        if n != int(n) or not 0 <= n < 7 or (fields is None and not 0 <= m.ijd <= _MAX_JD):
            return False
        wd = ((m.ijd + 129_600_000) // _MS_PER_DAY) % 7
        if wd > n:
            wd -= 7
        m.ijd += int(n - wd) * _MS_PER_DAY
        return True
    if z.startswith("start of "):
        if fields is None and not 0 <= m.ijd <= _MAX_JD:  # SQLite's computeYMD fails
            return False
        y, mo, d = (fields or _fields_of(m.ijd))[:3]
        what = z[9:]
        if what == "month":
            m.fields = Fields(y, mo, 1)
        elif what == "year":
            m.fields = Fields(y, 1, 1)
        elif what == "day":
            m.fields = Fields(y, mo, d)  # as parsed: SQLite keeps the day unnormalized
        else:
            return False
        m.ijd = m.fields.jd()
        return True
    found = _MOD_NUMBER_RE.fullmatch(z)
    if found is None:
        return False
    number, rest = found.group(1), found.group(2)
    if rest.startswith(":"):  # '+HH:MM[:SS]': a time offset
        ms = _time_ms(number.lstrip("+-") + rest)
        if ms is None:
            return False
        m.ijd += -ms if number.startswith("-") else ms
        return True
    unit = rest.lstrip()
    if len(unit) > 3 and unit.endswith("s"):
        unit = unit[:-1]
    if unit not in _UNITS or (rest and not rest[:1].isspace()):
        return False
    r = float(number)
    if unit in ("month", "year"):
        if fields is None and not 0 <= m.ijd <= _MAX_JD:  # SQLite's computeYMD fails
            return False
        y, mo, d, h, mi, sec = fields or _fields_of(m.ijd)
        ms = _hms_ms(h, mi, sec)
        if unit == "month":
            mo += int(r)
            x = (mo - 1) // 12 if mo > 0 else -((12 - mo) // 12)
            y += x
            mo -= x * 12
        else:
            y += int(r)
        r -= int(r)
        m.ijd = _jd(y, mo, d, ms)
    m.ijd += int(r * _UNITS[unit] + (-0.5 if r < 0 else 0.5))
    return True


def _compute(args: Sequence[SQLValue]) -> _Moment | None:
    """The moment of a date/time function's arguments: a value and modifiers (no arguments:
    now); None if any is NULL or invalid."""
    if not args:
        return _Moment(_now())
    m = _moment(args[0])
    if m is None:
        return None
    for i, modifier in enumerate(args[1:]):
        if modifier is None or not _modify(m, to_text(modifier), i == 0):
            return None
    if not 0 <= m.ijd <= _MAX_JD:
        return None
    return m


def _date_text(f: Fields) -> str:
    y, mo, d = f.y, f.mo, f.d
    return f"-{-y:04d}-{mo:02d}-{d:02d}" if y < 0 else f"{y:04d}-{mo:02d}-{d:02d}"


def _seconds_text(s: float) -> str:
    """Seconds as ``SS.SSS`` (SQLite's ``%06.3f``, never 60)."""
    return _fixed(min(s, 59.999), 3, "0", 6)


def _time_text(f: Fields, subsec: bool) -> str:
    if subsec:
        return f"{f.h:02d}:{f.mi:02d}:{_seconds_text(f.s)}"
    return f"{f.h:02d}:{f.mi:02d}:{int(f.s):02d}"


def _fn_date(*args: SQLValue) -> SQLValue:
    m = _compute(args)
    return None if m is None else _date_text(m.parts())


def _fn_time(*args: SQLValue) -> SQLValue:
    m = _compute(args)
    return None if m is None else _time_text(m.parts(), m.subsec)


def _fn_datetime(*args: SQLValue) -> SQLValue:
    m = _compute(args)
    return None if m is None else f"{_date_text(m.parts())} {_time_text(m.parts(), m.subsec)}"


def _fn_julianday(*args: SQLValue) -> SQLValue:
    m = _compute(args)
    return None if m is None else m.ijd / _MS_PER_DAY


def _unix_ms(ijd: int) -> int:
    return ijd - _UNIX_EPOCH_JD


def _unix_seconds(ijd: int) -> int:
    """SQLite's ``iJD/1000 - 21086676*10000``: whole seconds, rounded down."""
    return ijd // 1000 - _UNIX_EPOCH_JD // 1000


def _fn_unixepoch(*args: SQLValue) -> SQLValue:
    m = _compute(args)
    if m is None:
        return None
    if m.subsec:
        return _unix_ms(m.ijd) / 1000.0
    return _unix_seconds(m.ijd)


def _strftime_field(spec: str, m: _Moment) -> str | None:
    ijd, f = m.ijd, m.parts()
    y, mo, d, h, mi = f.y, f.mo, f.d, f.h, f.mi
    # SQLite counts from January 1st at the same time of day
    day_of_year = (ijd - _jd(y, 1, 1, _hms_ms(h, mi, f.s)) + 43_200_000) // _MS_PER_DAY
    if spec == "d":
        return f"{d:02d}"
    if spec == "e":
        return f"{d:2d}"
    if spec == "f":
        return _seconds_text(f.s)
    if spec == "F":
        return _date_text(f)
    if spec == "H":
        return f"{h:02d}"
    if spec == "k":
        return f"{h:2d}"
    if spec in "Il":
        h12 = h % 12 or 12
        return f"{h12:02d}" if spec == "I" else f"{h12:2d}"
    if spec in "pP":
        mark = "PM" if h >= 12 else "AM"
        return mark if spec == "p" else mark.lower()
    if spec == "j":
        return f"{day_of_year + 1:03d}"
    if spec == "J":
        return format(ijd / _MS_PER_DAY, ".16g")
    if spec == "m":
        return f"{mo:02d}"
    if spec == "M":
        return f"{mi:02d}"
    if spec == "s":
        return str(_unix_seconds(ijd))
    if spec == "S":
        return f"{int(f.s):02d}"
    if spec == "T":
        return _time_text(f, False)
    if spec == "R":
        return f"{h:02d}:{mi:02d}"
    if spec == "w":
        return str(((ijd + 129_600_000) // _MS_PER_DAY) % 7)
    if spec == "u":
        return str(((ijd + 129_600_000) // _MS_PER_DAY) % 7 or 7)
    if spec == "W":
        wd = ((ijd + 43_200_000) // _MS_PER_DAY) % 7  # 0 = Monday
        return f"{(day_of_year + 7 - wd) // 7:02d}"
    if spec == "Y":
        return f"{y:04d}"
    if spec == "y":
        return f"{y % 100:02d}"
    if spec == "C":
        return f"{y // 100:02d}"
    if spec in "UVGg" and 1 <= y <= 9999:
        return dt.date(y, mo, d).strftime("%" + spec)
    if spec == "%":
        return "%"
    return None


def _fn_strftime(fmt: SQLValue, *args: SQLValue) -> SQLValue:
    m = _compute(args)
    if m is None or fmt is None:
        return None
    out: list[str] = []
    text = to_text(fmt)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(text):
            return None
        field_text = _strftime_field(text[i + 1], m)
        if field_text is None:
            return None
        out.append(field_text)
        i += 2
    return "".join(out)


def _fn_timediff(a: SQLValue, b: SQLValue) -> SQLValue:
    ma, mb = _compute([a]), _compute([b])
    if ma is None or mb is None:
        return None
    sign = "+" if ma.ijd >= mb.ijd else "-"
    hi, lo = (ma, mb) if ma.ijd >= mb.ijd else (mb, ma)
    y1, mo1, d1 = _ymd(hi.ijd)
    y0, mo0, d0 = _ymd(lo.ijd)
    years, months = y1 - y0, mo1 - mo0
    ms = _ms_of_day(hi.ijd) - _ms_of_day(lo.ijd)
    days = d1 - d0
    if ms < 0:
        ms += _MS_PER_DAY
        days -= 1
    if days < 0:
        months -= 1
        py, pm = (y1, mo1 - 1) if mo1 > 1 else (y1 - 1, 12)
        days += (_jd(y1, mo1, 1) - _jd(py, pm, 1)) // _MS_PER_DAY
    if months < 0:
        months += 12
        years -= 1
    h, rem = divmod(ms, 3_600_000)
    mi, sms = divmod(rem, 60_000)
    return f"{sign}{years:04d}-{months:02d}-{days:02d} {h:02d}:{mi:02d}:{sms / 1000:06.3f}"


# -- text and numbers -------------------------------------------------------------------------


def _blob_or_text(v: SQLValue) -> str | bytes:
    return v if isinstance(v, bytes) else to_text(v)


def _fn_instr(haystack: SQLValue, needle: SQLValue) -> SQLValue:
    if isinstance(haystack, bytes) and isinstance(needle, bytes):
        return haystack.find(needle) + 1
    return to_text(haystack).find(to_text(needle)) + 1


def _fn_replace(x: SQLValue, old: SQLValue, new: SQLValue) -> SQLValue:
    o = to_text(old)
    return to_text(x) if o == "" else to_text(x).replace(o, to_text(new))


def _trimmer(how: str) -> Callable[..., SQLValue]:
    def trim(x: SQLValue, chars: SQLValue = " ") -> SQLValue:
        text, cs = to_text(x), to_text(chars)
        if how == "L":
            return text.lstrip(cs)
        if how == "R":
            return text.rstrip(cs)
        return text.strip(cs)

    return trim


def _fn_hex(x: SQLValue) -> SQLValue:
    if x is None:
        return ""
    data = x if isinstance(x, bytes) else to_text(x).encode()
    return data.hex().upper()


_HEX_DIGITS = "0123456789abcdefABCDEF"


def _fn_unhex(x: SQLValue, ignore: SQLValue = "") -> SQLValue:
    skip = set(to_text(ignore))
    digits: list[str] = []
    text = to_text(x)
    i = 0
    while i < len(text):
        ch = text[i]
        if (
            ch in "0123456789abcdefABCDEF"
            and i + 1 < len(text)
            and text[i + 1] in "0123456789abcdefABCDEF"
        ):
            digits.append(text[i : i + 2])
            i += 2
        elif ch in skip:
            i += 1
        else:
            return None
    return bytes.fromhex("".join(digits))


def _fn_quote(x: SQLValue) -> SQLValue:
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float | decimal.Decimal):
        f = float(x)
        text = format(f, ".15g")
        if float(text) != f:
            text = format(f, ".20e")
        elif "." not in text and "e" not in text and "n" not in text:
            text += ".0"
        return text
    if isinstance(x, bytes):
        return f"X'{x.hex().upper()}'"
    return "'" + to_text(x).replace("'", "''") + "'"


def _fn_char(*codes: SQLValue) -> SQLValue:
    out: list[str] = []
    for c in codes:
        n = int(to_number_lenient(c)) if c is not None else 0
        out.append(chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else "\ufffd")
    return "".join(out)


def _fn_unicode(x: SQLValue) -> SQLValue:
    text = to_text(x)
    return ord(text[0]) if text else None


def _fn_random() -> SQLValue:
    return random.randint(-(2**63), 2**63 - 1)


def _blob_size(n: SQLValue) -> int:
    return 0 if n is None else max(0, int(to_number_lenient(n)))


def _fn_randomblob(n: SQLValue) -> SQLValue:
    return os.urandom(max(1, _blob_size(n)))


def _fn_zeroblob(n: SQLValue) -> SQLValue:
    return bytes(_blob_size(n))


def _exact_number(x: SQLValue) -> int | float | decimal.Decimal | None:
    """``x`` as a number if it is one or its whole text is one; None otherwise."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int | float | decimal.Decimal):
        return x
    if isinstance(x, str) and _NUMBER_RE.fullmatch(x):
        return to_number_lenient(x.strip())
    return None


def _fn_sign(x: SQLValue) -> SQLValue:
    n = _exact_number(x)
    if n is None:
        return None
    return 1 if n > 0 else -1 if n < 0 else 0


def _fn_max(*args: SQLValue) -> SQLValue:
    best = args[0]
    for a in args[1:]:
        if compare(a, best) > 0:
            best = a
    return best


def _fn_min(*args: SQLValue) -> SQLValue:
    best = args[0]
    for a in args[1:]:
        if compare(a, best) < 0:
            best = a
    return best


def _fn_ifnull(a: SQLValue, b: SQLValue) -> SQLValue:
    return a if a is not None else b


def _fn_octet_length(x: SQLValue) -> SQLValue:
    return len(x) if isinstance(x, bytes) else len(to_text(x).encode())


def _fn_concat_ws(sep: SQLValue, *args: SQLValue) -> SQLValue:
    if sep is None:
        return None
    return to_text(sep).join(to_text(a) for a in args if a is not None)


def _fn_concat(*args: SQLValue) -> SQLValue:
    return "".join(to_text(a) for a in args if a is not None)


# printf: %[flags][width][.precision][size]conversion
_PRINTF_RE = re.compile(r"%([-+ 0#,!]*)(\d+|\*)?(?:\.(\d+|\*))?(?:ll|l)?([a-zA-Z%])")


def _fixed(f: float, places: int, flags: str, width: int) -> str:
    """printf's ``%f``: SQLite rounds 16 significant digits half up (``'%.1f'`` of 2.25 is
    ``2.3``, where Python's rounding gives ``2.2``)."""
    exact = decimal.Decimal(format(f, ".16g"))
    text = str(exact.quantize(decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP))
    if not text.startswith("-"):
        text = ("+" if "+" in flags else " " if " " in flags else "") + text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags:
        sign = text[0] if text[0] in "+- " else ""
        return sign + text[len(sign) :].rjust(width - len(sign), "0")
    return text.rjust(width)


def _fn_printf(fmt: SQLValue, *args: SQLValue) -> SQLValue:
    if fmt is None:
        return None
    values = list(args)

    def next_arg() -> SQLValue:
        return values.pop(0) if values else None

    def field(m: re.Match[str]) -> str:
        flags, width, precision, conv = m.group(1), m.group(2), m.group(3), m.group(4)
        if conv == "%":
            return "%"
        if width == "*":
            w = int(to_number_lenient(next_arg() or 0))
            if w < 0:
                flags, w = flags + "-", -w
            width = str(w)
        if precision == "*":
            precision = str(max(0, int(to_number_lenient(next_arg() or 0))))
        pyflags = "".join(f for f in flags if f in "-+ 0#")
        spec = "%" + pyflags + (width or "") + (f".{precision}" if precision is not None else "")
        v = next_arg()
        if conv in "dicu":
            if conv == "c":
                text = to_text(v) if v is not None else ""
                return ("%" + pyflags.replace("0", "") + (width or "") + "s") % text[:1]
            n = int(to_number_lenient(v)) if v is not None else 0
            return (spec + "d") % n
        if conv in "xXo":
            n = int(to_number_lenient(v)) if v is not None else 0
            return (spec + conv) % (n & 0xFFFFFFFFFFFFFFFF)
        if conv == "f":
            f = float(to_number_lenient(v)) if v is not None else 0.0
            if not math.isfinite(f):
                return (spec + "f") % f
            return _fixed(f, int(precision or 6), flags, int(width or 0))
        if conv in "eEgG":
            f = float(to_number_lenient(v)) if v is not None else 0.0
            return (spec + conv) % f
        if conv in "sz":
            text = to_text(v) if v is not None else ""
            if precision is not None:
                text = text[: int(precision)]
            return ("%" + pyflags.replace("0", "") + (width or "") + "s") % text
        if conv in "qQw":
            if v is None:
                return "NULL" if conv == "Q" else "(NULL)"
            quote = '"' if conv == "w" else "'"
            text = to_text(v).replace(quote, quote * 2)
            return f"'{text}'" if conv == "Q" else text
        return ""

    return _PRINTF_RE.sub(field, to_text(fmt))


def _session_count(name: str) -> Callable[..., SQLValue]:
    """last_insert_rowid(), changes(), total_changes(): what the connection's writes before
    this statement report (0 before any)."""

    def run(c: Any) -> SQLValue:  # Any: the run context
        session = getattr(c, "session", None)
        return 0 if session is None else int(getattr(session, name))

    return run


def _fn_likely(x: SQLValue, *_: SQLValue) -> SQLValue:
    return x


# -- JSON -------------------------------------------------------------------------------------


class JsonText(str):
    """Text a JSON function made (SQLite's JSON subtype): embedded as JSON, not as a string,
    by the JSON functions that take it as an argument."""


def _dumps(value: Any) -> str:  # Any: a JSON value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _loads(text: SQLValue) -> Any:  # Any: a JSON value
    if isinstance(text, bytes):
        raise OperationalError("JSON cannot hold BLOB values")
    if not isinstance(text, str):
        return text if not isinstance(text, decimal.Decimal) else float(text)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        raise OperationalError("malformed JSON") from None


def _no_constant(name: str) -> Any:  # Any: never returns
    raise ValueError(name)


def _as_json(value: SQLValue) -> Any:  # Any: a JSON value
    """An SQL value as a JSON value: JSON functions' results as JSON, other text as a string."""
    if isinstance(value, JsonText):
        return json.loads(value)
    if isinstance(value, bytes):
        raise OperationalError("JSON cannot hold BLOB values")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.time):
        return to_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_PATH_STEP_RE = re.compile(r'\.(?:"((?:[^"\\]|\\.)*)"|([^.\[]+))|\[(#(?:-\d+)?|\d+)\]')


def _path(path: SQLValue) -> list[str | int | tuple[str, int]]:
    """A JSON path (``$.a."b c"[2][#-1]``) as steps: keys, indexes, (``'#'``, offset)."""
    text = to_text(path)
    if not text.startswith("$"):
        raise OperationalError(f"JSON path error near '{text}'")
    steps: list[str | int | tuple[str, int]] = []
    i = 1
    while i < len(text):
        m = _PATH_STEP_RE.match(text, i)
        if m is None:
            raise OperationalError(f"JSON path error near '{text[i:]}'")
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(m.group(2))
        else:
            index = m.group(3)
            steps.append(("#", int(index[1:] or 0)) if index.startswith("#") else int(index))
        i = m.end()
    return steps


_MISSING = object()


def _lookup(doc: Any, path: SQLValue) -> Any:  # Any: a JSON value or _MISSING
    node = doc
    for step in _path(path):
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, list):
                return _MISSING
            index = step if isinstance(step, int) else len(node) + step[1]
            if not 0 <= index < len(node):
                return _MISSING
            node = node[index]
    return node


def _sql_value(value: Any) -> SQLValue:  # Any: a JSON value
    """A JSON value as an SQL value (json_extract, ->>): containers stay JSON text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return JsonText(_dumps(value))
    result: SQLValue = value
    return result


def _fn_json(x: SQLValue) -> SQLValue:
    return JsonText(_dumps(_loads(x)))


def _fn_json_extract(x: SQLValue, *paths: SQLValue) -> SQLValue:
    doc = _loads(x)
    if len(paths) == 1:
        found = _lookup(doc, paths[0])
        return None if found is _MISSING else _sql_value(found)
    out = []
    for p in paths:
        found = _lookup(doc, p)
        out.append(None if found is _MISSING else found)
    return JsonText(_dumps(out))


def _arrow_path(path: SQLValue) -> SQLValue:
    """The right operand of ``->``/``->>``: a path, an array index or an object label."""
    if isinstance(path, int) and not isinstance(path, bool):
        return f"$[{path}]" if path >= 0 else f"$[#{path}]"
    text = to_text(path)
    return text if text.startswith("$") else f'$."{text}"'


def _fn_arrow(x: SQLValue, path: SQLValue) -> SQLValue:
    found = _lookup(_loads(x), _arrow_path(path))
    return None if found is _MISSING else JsonText(_dumps(found))


def _fn_arrow2(x: SQLValue, path: SQLValue) -> SQLValue:
    found = _lookup(_loads(x), _arrow_path(path))
    return None if found is _MISSING else _sql_value(found)


def _fn_json_array(*args: SQLValue) -> SQLValue:
    return JsonText(_dumps([_as_json(a) for a in args]))


def _fn_json_object(*args: SQLValue) -> SQLValue:
    if len(args) % 2:
        raise ProgrammingError("json_object() requires an even number of arguments")
    out: dict[str, Any] = {}
    for k, v in zip(args[::2], args[1::2], strict=True):
        if not isinstance(k, str):
            raise OperationalError("json_object() labels must be TEXT")
        out[k] = _as_json(v)
    return JsonText(_dumps(out))


def _json_type_name(value: Any) -> str:  # Any: a JSON value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "text"
    return "array" if isinstance(value, list) else "object"


def _fn_json_type(x: SQLValue, path: SQLValue = "$") -> SQLValue:
    found = _lookup(_loads(x), path)
    return None if found is _MISSING else _json_type_name(found)


def _fn_json_valid(x: SQLValue) -> SQLValue:
    if not isinstance(x, str):
        return int(isinstance(x, int | float) and not isinstance(x, bool))
    try:
        json.loads(x, parse_constant=_no_constant)
    except ValueError:
        return 0
    return 1


def _fn_json_array_length(x: SQLValue, path: SQLValue = "$") -> SQLValue:
    found = _lookup(_loads(x), path)
    if found is _MISSING:
        return None
    return len(found) if isinstance(found, list) else 0


def _fn_json_quote(x: SQLValue) -> SQLValue:
    return JsonText(_dumps(_as_json(x)))


def _edit(mode: str) -> Callable[..., SQLValue]:
    """json_set (create or replace), json_insert (create only), json_replace (replace only)."""

    def run(x: SQLValue, *pairs: SQLValue) -> SQLValue:
        if x is None:
            return None
        doc = _loads(x)
        for p, v in zip(pairs[::2], pairs[1::2], strict=False):
            if p is None:
                return None
            steps = _path(p)
            if not steps:
                if mode != "insert":
                    doc = _as_json(v)
                continue
            node = doc
            for step in steps[:-1]:
                found = _lookup(node, "$" + _step_text(step))
                if found is _MISSING:
                    node = None
                    break
                node = found
            last = steps[-1]
            if isinstance(node, dict) and isinstance(last, str):
                if (last in node and mode != "insert") or (last not in node and mode != "replace"):
                    node[last] = _as_json(v)
            elif isinstance(node, list) and not isinstance(last, str):
                index = last if isinstance(last, int) else len(node) + last[1]
                if 0 <= index < len(node) and mode != "insert":
                    node[index] = _as_json(v)
                elif index == len(node) and mode != "replace":
                    node.append(_as_json(v))
        return JsonText(_dumps(doc))

    return run


def _step_text(step: str | int | tuple[str, int]) -> str:
    if isinstance(step, str):
        return '."' + step + '"'
    if isinstance(step, int):
        return f"[{step}]"
    return f"[#{step[1]}]" if step[1] else "[#]"


def _fn_json_remove(x: SQLValue, *paths: SQLValue) -> SQLValue:
    if x is None:
        return None
    doc = _loads(x)
    for p in paths:
        if p is None:
            return None
        steps = _path(p)
        if not steps:
            return None
        parent = _lookup(doc, "$" + "".join(_step_text(s) for s in steps[:-1]))
        last = steps[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            parent.pop(last, None)
        elif isinstance(parent, list) and not isinstance(last, str):
            index = last if isinstance(last, int) else len(parent) + last[1]
            if 0 <= index < len(parent):
                del parent[index]
    return JsonText(_dumps(doc))


# -- the table ---------------------------------------------------------------------------------

FUNCTIONS: dict[str, Function] = {
    # date and time
    "DATE": Function(_fn_date, strict=False),
    "TIME": Function(_fn_time, strict=False),
    "DATETIME": Function(_fn_datetime, strict=False),
    "JULIANDAY": Function(_fn_julianday, strict=False),
    "UNIXEPOCH": Function(_fn_unixepoch, strict=False),
    "STRFTIME": Function(_fn_strftime, 1, strict=False),
    "TIMEDIFF": Function(_fn_timediff, 2, 2),
    # text and numbers
    "PRINTF": Function(_fn_printf, 0, strict=False),
    "FORMAT": Function(_fn_printf, 0, strict=False),
    "INSTR": Function(_fn_instr, 2, 2),
    "REPLACE": Function(_fn_replace, 3, 3),
    "TRIM": Function(_trimmer("B"), 1, 2),
    "LTRIM": Function(_trimmer("L"), 1, 2),
    "RTRIM": Function(_trimmer("R"), 1, 2),
    "HEX": Function(_fn_hex, 1, 1, strict=False),
    "UNHEX": Function(_fn_unhex, 1, 2),
    "QUOTE": Function(_fn_quote, 1, 1, strict=False),
    "CHAR": Function(_fn_char, 0, strict=False),
    "UNICODE": Function(_fn_unicode, 1, 1),
    "RANDOM": Function(_fn_random, 0, 0),
    "RANDOMBLOB": Function(_fn_randomblob, 1, 1, strict=False),
    "ZEROBLOB": Function(_fn_zeroblob, 1, 1, strict=False),
    "SIGN": Function(_fn_sign, 1, 1),
    "MAX": Function(_fn_max, 2),
    "MIN": Function(_fn_min, 2),
    "IFNULL": Function(_fn_ifnull, 2, 2, strict=False),
    "TYPEOF": Function(typeof, 1, 1, strict=False),
    "OCTET_LENGTH": Function(_fn_octet_length, 1, 1),
    "CONCAT": Function(_fn_concat, 1, strict=False),
    "CONCAT_WS": Function(_fn_concat_ws, 2, strict=False),
    "LAST_INSERT_ROWID": Function(_session_count("last_insert_rowid"), 0, 0, with_context=True),
    "CHANGES": Function(_session_count("changes"), 0, 0, with_context=True),
    "TOTAL_CHANGES": Function(_session_count("total_changes"), 0, 0, with_context=True),
    "LIKELY": Function(_fn_likely, 1, 1, strict=False),
    "UNLIKELY": Function(_fn_likely, 1, 1, strict=False),
    "LIKELIHOOD": Function(_fn_likely, 2, 2, strict=False),
    # JSON
    "JSON": Function(_fn_json, 1, 1),
    "JSON_EXTRACT": Function(_fn_json_extract, 2),
    "->": Function(_fn_arrow, 2, 2),
    "->>": Function(_fn_arrow2, 2, 2),
    "JSON_ARRAY": Function(_fn_json_array, 0, strict=False),
    "JSON_OBJECT": Function(_fn_json_object, 0, strict=False),
    "JSON_TYPE": Function(_fn_json_type, 1, 2),
    "JSON_VALID": Function(_fn_json_valid, 1, 1),
    "JSON_ARRAY_LENGTH": Function(_fn_json_array_length, 1, 2),
    "JSON_QUOTE": Function(_fn_json_quote, 1, 1, strict=False),
    "JSON_SET": Function(_edit("set"), 1, strict=False),
    "JSON_INSERT": Function(_edit("insert"), 1, strict=False),
    "JSON_REPLACE": Function(_edit("replace"), 1, strict=False),
    "JSON_REMOVE": Function(_fn_json_remove, 1, strict=False),
}


def bind(name: str, args: list[Fn]) -> Fn:
    """A compiled call of SQL function ``name`` (upper case, in :data:`FUNCTIONS`) on compiled
    arguments; ``ProgrammingError`` for a wrong number of arguments. A value the function
    cannot take (Python's TypeError, ValueError or ArithmeticError on it) is a ``DataError``
    naming the call and its arguments."""
    f = FUNCTIONS[name]
    if len(args) < f.min_args or (f.max_args is not None and len(args) > f.max_args):
        raise ProgrammingError(f"wrong number of arguments to function {name.lower()}()")
    impl, strict = f.impl, f.strict
    if f.with_context:

        def with_context(r: Row, c: Any) -> SQLValue:  # Any: the run context
            values = [a(r, c) for a in args]
            try:
                return impl(c, *values)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise cannot_evaluate(f"{name.lower()}()", values, exc) from exc

        return with_context
    if len(args) == 1:
        (a,) = args

        def one(r: Row, c: Any) -> SQLValue:  # Any: the run context
            v = a(r, c)
            if strict and v is None:
                return None
            try:
                return impl(v)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise cannot_evaluate(f"{name.lower()}()", [v], exc) from exc

        return one

    def run(r: Row, c: Any) -> SQLValue:  # Any: the run context
        values = [a(r, c) for a in args]
        if strict and None in values:
            return None
        try:
            return impl(*values)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise cannot_evaluate(f"{name.lower()}()", values, exc) from exc

    return run


def cannot_evaluate(what: str, values: Sequence[SQLValue], exc: Exception) -> DataError:
    """The DataError for values an operation cannot take (Python raised ``exc`` on them),
    naming the operation (a function call, an expression's SQL) and the values."""
    shown = ", ".join(_shown_arg(v) for v in values)
    return DataError(f"cannot evaluate {what[:80]} on ({shown}): {type(exc).__name__}: {exc}")


def _shown_arg(value: SQLValue) -> str:
    text = repr(value)
    return text[:40] + ("..." if len(text) > 40 else "")


# -- sqlglot's own nodes for SQLite functions --------------------------------------------------


def _json_path_text(node: exp.Expression) -> exp.Expression:
    """A parsed JSON path (sqlglot's JSONPath) back as a path literal."""
    if not isinstance(node, exp.JSONPath):
        return node
    out = "$"
    for part in node.expressions:
        if isinstance(part, exp.JSONPathKey):
            out += '."' + str(part.this) + '"'
        elif isinstance(part, exp.JSONPathSubscript):
            out += f"[{part.this}]"
        elif not isinstance(part, exp.JSONPathRoot):
            raise ProgrammingError(f"unsupported JSON path: {node.sql()}")
    return exp.Literal.string(out)


def _unwrap_timestamp(node: exp.Expression) -> exp.Expression:
    return node.this if isinstance(node, exp.TsOrDsToTimestamp) else node


def _trim_call(node: exp.Trim) -> tuple[str, list[exp.Expression]]:
    position = str(node.args.get("position") or "").upper()
    name = {"LEADING": "LTRIM", "TRAILING": "RTRIM"}.get(position, "TRIM")
    chars = node.args.get("expression")
    return name, [node.this] + ([chars] if chars is not None else [])


def _json_extract_call(
    node: exp.JSONExtract | exp.JSONExtractScalar,
) -> tuple[str, list[exp.Expression]]:
    paths = [_json_path_text(node.expression), *node.expressions]
    if "only_json_types" in node.args:  # the -> and ->> operators
        return ("->>" if isinstance(node, exp.JSONExtractScalar) else "->"), [node.this, *paths]
    return "JSON_EXTRACT", [node.this, *paths]


def _json_object_args(node: exp.JSONObject) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    for kv in node.expressions:
        out.extend([kv.this, kv.expression])
    return out


def _args(*parts: exp.Expression | None) -> list[exp.Expression]:
    return [p for p in parts if p is not None]


_NODE_CALLS: dict[type[exp.Expression], Callable[[Any], tuple[str, list[exp.Expression]]]] = {
    exp.Date: lambda n: ("DATE", _args(n.this, *n.expressions)),
    exp.TimeToStr: lambda n: ("STRFTIME", [n.args["format"], _unwrap_timestamp(n.this)]),
    exp.StrPosition: lambda n: ("INSTR", [n.this, n.args["substr"]]),
    exp.Format: lambda n: ("PRINTF", [n.this, *n.expressions]),
    exp.Replace: lambda n: ("REPLACE", [n.this, n.expression, n.args["replacement"]]),
    exp.Trim: _trim_call,
    exp.Hex: lambda n: ("HEX", [n.this]),
    exp.Unhex: lambda n: ("UNHEX", _args(n.this, n.expression)),
    exp.Chr: lambda n: ("CHAR", list(n.expressions)),
    exp.Unicode: lambda n: ("UNICODE", [n.this]),
    exp.Rand: lambda n: ("RANDOM", []),
    exp.Sign: lambda n: ("SIGN", [n.this]),
    exp.Greatest: lambda n: ("MAX", [n.this, *n.expressions]),
    exp.Least: lambda n: ("MIN", [n.this, *n.expressions]),
    exp.ConcatWs: lambda n: ("CONCAT_WS", list(n.expressions)),
    exp.JSONExtract: _json_extract_call,
    exp.JSONExtractScalar: _json_extract_call,
    exp.JSONObject: lambda n: ("JSON_OBJECT", _json_object_args(n)),
    exp.JSONType: lambda n: ("JSON_TYPE", _args(n.this, n.expression)),
    exp.JSONSet: lambda n: ("JSON_SET", [n.this, *n.expressions]),
    exp.JSONRemove: lambda n: ("JSON_REMOVE", [n.this, *n.expressions]),
}


def call_of(node: exp.Expression) -> tuple[str, list[exp.Expression]] | None:
    """The SQL function name (a key of :data:`FUNCTIONS`) and the argument expressions of a
    function call: an unknown function's or one sqlglot parses to a node of its own; None for
    any other expression."""
    if isinstance(node, exp.Anonymous):
        name = str(node.this).upper()
        return (name, list(node.expressions)) if name in FUNCTIONS else None
    make = _NODE_CALLS.get(type(node))
    return None if make is None else make(node)
