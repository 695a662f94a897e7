"""The segment catalogue: segments.yml read, expanded and validated as a whole before anything runs.

Every problem in the file is collected and raised together in one `SegmentError`, so a marketer fixing
the catalogue sees all bad segments at once rather than one per run.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pwh.segments.features import DEFAULT_FEATURES
from pwh.segments.rules import RuleError, compile_rule, did_you_mean

DEFAULT_SEGMENTS_PATH = Path(__file__).with_name("segments.yml")

_REQUIRED = ("name", "description", "owner", "rule")
_OPTIONAL = ("stay_rule", "priority", "exclude", "values")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # snake_case, and short enough for any database identifier
_THEME = "{theme}"
_SIZE_KEYS = ("allow_empty", "max_daily_change", "change_tolerance", "warmup_days")


@dataclass(frozen=True)
class SizeCheck:
    """When a segment's size fails the nightly run, before anything is exported (segments.yml's header).

    The run fails when the segment is empty (unless `allow_empty`), or when its size moved since the
    previous run date by more than `max_daily_change` (a share of the previous size: 0.5 = 50%) and by
    more than `change_tolerance` people, so that small segments do not fail on a handful of people.
    """

    allow_empty: bool = False
    max_daily_change: float = 0.5
    change_tolerance: int = 20
    # no change check in the first days of segment history: a new warehouse is still filling the 7-day
    # windows, so its segments grow fast (a backfill from the first day would otherwise fail on day 2)
    warmup_days: int = 7


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One audience. `enter_sql` and `stay_sql` are boolean SQL over `marts.person_features`' columns.

    A person enters when `enter_sql` holds; a current member stays while `stay_sql` holds (hysteresis)
    or, without a stay_rule (`stay_sql` None), while `enter_sql` holds. Members of the `exclude`d
    segments are left out. `value_features` are the features to show as "why is this person here":
    `values` if given, else the features the rules use. `size_check` comes from the catalogue's
    `size_checks` section.
    """

    name: str
    description: str
    owner: str
    rule: str
    stay_rule: str | None = None
    priority: int = 0
    exclude: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    enter_sql: str
    stay_sql: str | None = None
    value_features: tuple[str, ...]
    size_check: SizeCheck = SizeCheck()


class SegmentError(ValueError):
    """Everything wrong with a segment catalogue; `problems` holds one message per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = tuple(problems)
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        listed = "\n".join("- " + problem.replace("\n", "\n  ") for problem in problems)
        super().__init__(f"{source}: {count} in the segment catalogue:\n{listed}")


def load_segments(
    path: str | Path = DEFAULT_SEGMENTS_PATH, features: Mapping[str, str] = DEFAULT_FEATURES
) -> list[Segment]:
    """Read, expand and validate a segment catalogue; every rule is compiled against `features`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SegmentError(str(path), [f"cannot read the file: {error.strerror or error}"]) from None
    return parse_segments(text, features, source=str(path))


def parse_segments(
    text: str, features: Mapping[str, str] = DEFAULT_FEATURES, *, source: str = "<segments>"
) -> list[Segment]:
    """`load_segments` for YAML text; `source` names the text in error messages."""
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no Python objects from YAML
    except yaml.YAMLError as error:
        raise SegmentError(source, [f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise SegmentError(source, ["expected a mapping with a 'segments' list at the top"])

    problems: list[str] = []
    _check_keys(
        "the top level",
        document,
        required=(),
        optional=("segments", "per_theme", "size_checks"),
        problems=problems,
    )
    listed = document.get("segments", [])
    if not isinstance(listed, list):
        problems.append(f"'segments': expected a list of segments, found {_kind(listed)}")
        listed = []
    entries = listed + _expand_per_theme(document.get("per_theme"), problems)

    names = Counter(
        entry["name"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)
    )
    problems += [
        f"segment '{name}': the name is used {count} times" for name, count in names.items() if count > 1
    ]
    known = set(names)
    segments = [_segment(number, entry, features, known, problems) for number, entry in enumerate(entries, 1)]
    segments = [segment for segment in segments if segment is not None]
    problems += _exclude_cycles(segments)
    checks = _size_checks(document.get("size_checks"), list(names), problems)
    segments = [replace(segment, size_check=checks.get(segment.name, SizeCheck())) for segment in segments]
    if not entries and not problems:
        problems.append("expected at least one segment")
    if problems:
        raise SegmentError(source, problems)
    return segments


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys, where PyYAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"found a duplicate key '{key_node.value}'",
                        key_node.start_mark,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _expand_per_theme(per_theme: Any, problems: list[str]) -> list[Any]:
    """One segment per theme from each template, `{theme}` replaced in every text and list item."""
    if per_theme is None:
        return []
    if not isinstance(per_theme, dict):
        problems.append(f"'per_theme': expected a mapping of themes and segments, found {_kind(per_theme)}")
        return []
    _check_keys("'per_theme'", per_theme, required=("themes", "segments"), optional=(), problems=problems)
    themes, templates = per_theme.get("themes"), per_theme.get("segments")
    if not (
        isinstance(themes, list) and themes and all(isinstance(t, str) and _NAME.fullmatch(t) for t in themes)
    ):
        problems.append(f"'per_theme' themes: expected a list of snake_case theme names, found {themes!r}")
        return []
    if len(set(themes)) < len(themes):
        problems.append("'per_theme' themes: a theme is listed twice")
    if not isinstance(templates, list):
        problems.append(f"'per_theme' segments: expected a list of segments, found {_kind(templates)}")
        return []
    entries = []
    for number, template in enumerate(templates, start=1):
        name = template.get("name") if isinstance(template, dict) else None
        if not (isinstance(name, str) and _THEME in name):
            problems.append(
                f"'per_theme' segment #{number}: expected a name containing '{_THEME}', found {name!r}"
            )
            continue
        entries += [_fill(template, theme) for theme in themes]
    return entries


def _size_checks(section: Any, names: list[str], problems: list[str]) -> dict[str, SizeCheck]:
    """Each segment's SizeCheck: the section's defaults, then matching patterns, then its own name."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        problems.append(
            f"'size_checks': expected a mapping of {', '.join(_SIZE_KEYS)}, segments, found {_kind(section)}"
        )
        return {}
    _check_keys("'size_checks'", section, required=(), optional=(*_SIZE_KEYS, "segments"), problems=problems)
    defaults = _size_values("'size_checks'", section, problems)
    per_segment = section.get("segments", {})
    if not isinstance(per_segment, dict):
        problems.append(
            f"'size_checks' segments: expected a mapping of segment names to settings, found {_kind(per_segment)}"
        )
        per_segment = {}
    overrides: list[tuple[str, dict[str, Any]]] = []
    for pattern, values in per_segment.items():
        label = f"'size_checks' segment '{pattern}'"
        if not isinstance(values, dict):
            problems.append(f"{label}: expected a mapping of {', '.join(_SIZE_KEYS)}, found {_kind(values)}")
            continue
        _check_keys(label, values, required=(), optional=_SIZE_KEYS, problems=problems)
        matched = [name for name in names if fnmatch.fnmatchcase(name, str(pattern))]
        if not matched:
            problems.append(f"{label}: matches no segment{did_you_mean(str(pattern), names)}")
        overrides.append((str(pattern), _size_values(label, values, problems)))
    # patterns (with *) first, then exact names, so that a segment's own entry wins
    overrides.sort(key=lambda item: "*" not in item[0] and "?" not in item[0] and "[" not in item[0])
    checks = {}
    for name in names:
        values = dict(defaults)
        for pattern, override in overrides:
            if fnmatch.fnmatchcase(name, pattern):
                values.update(override)
        checks[name] = SizeCheck(**values)
    return checks


def _size_values(label: str, entry: dict, problems: list[str]) -> dict[str, Any]:
    """The size-check settings given in entry, each checked for its type and range."""
    values = {}
    for field in fields(SizeCheck):
        if field.name not in entry:
            continue
        value = entry[field.name]
        if field.name == "allow_empty":
            ok, expected = isinstance(value, bool), "true or false"
        elif field.name == "max_daily_change":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            expected = "a share above 0 (0.5 = 50%)"
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            expected = (
                "a whole number of days, 0 or more"
                if field.name == "warmup_days"
                else "a whole number of people, 0 or more"
            )
        if ok:
            values[field.name] = value
        else:
            problems.append(f"{label}: expected {expected} for '{field.name}', found {value!r}")
    return values


def _fill(value: Any, theme: str) -> Any:
    if isinstance(value, str):
        return value.replace(_THEME, theme)
    if isinstance(value, list):
        return [_fill(item, theme) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, theme) for key, item in value.items()}
    return value


def _segment(
    number: int, entry: Any, features: Mapping[str, str], names: set[str], problems: list[str]
) -> Segment | None:
    """Validate and compile one entry; on any problem, add it to `problems` and return None."""
    if not isinstance(entry, dict):
        problems.append(
            f"segment #{number}: expected a mapping of {', '.join(_REQUIRED)}, ..., found {_kind(entry)}"
        )
        return None
    name = entry.get("name")
    named = name if isinstance(name, str) and name else None
    label = f"segment '{named}'" if named else f"segment #{number}"
    before = len(problems)
    _check_keys(label, entry, required=_REQUIRED, optional=_OPTIONAL, problems=problems)
    if "name" in entry and not (isinstance(name, str) and _NAME.fullmatch(name)):
        problems.append(f"{label}: expected a snake_case name (a-z, 0-9, _; at most 63), found {name!r}")
    for key in ("description", "owner", "rule", "stay_rule"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            problems.append(f"{label}: expected text for '{key}', found {entry[key]!r}")
    priority = entry.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(f"{label}: expected a whole number for 'priority', found {priority!r}")
    exclude = _names_list(label, entry, "exclude", problems)
    for other in exclude:
        if other == name:
            problems.append(f"{label}: 'exclude' names the segment itself")
        elif other not in names:
            problems.append(f"{label}: 'exclude' names unknown segment '{other}'{did_you_mean(other, names)}")
    values = _names_list(label, entry, "values", problems)
    for feature in values:
        if feature not in features:
            problems.append(
                f"{label}: 'values' names unknown feature '{feature}'{did_you_mean(feature, features)}"
            )
    compiled = {}
    for key in ("rule", "stay_rule"):
        if isinstance(entry.get(key), str):
            try:
                compiled[key] = compile_rule(entry[key].strip(), features, segment=named, field=key)
            except RuleError as error:
                problems.append(str(error) if named else f"{label}: {error}")
    if len(problems) > before:
        return None
    stay = compiled.get("stay_rule")
    used = compiled["rule"].features + (stay.features if stay else ())
    return Segment(
        name=name,
        description=entry["description"].strip(),
        owner=entry["owner"].strip(),
        rule=compiled["rule"].text,
        stay_rule=stay.text if stay else None,
        priority=priority,
        exclude=tuple(exclude),
        values=tuple(values),
        enter_sql=compiled["rule"].sql,
        stay_sql=stay.sql if stay else None,
        value_features=tuple(values) if "values" in entry else tuple(dict.fromkeys(used)),
    )


def _check_keys(
    label: str, entry: dict, *, required: tuple[str, ...], optional: tuple[str, ...], problems: list[str]
) -> None:
    known = required + optional
    for key in entry:
        if key not in known:
            hint = did_you_mean(str(key), known)
            problems.append(f"{label}: unknown key '{key}'{hint}; expected {', '.join(known)}")
    problems += [f"{label}: missing '{key}'" for key in required if key not in entry]


def _names_list(label: str, entry: dict, key: str, problems: list[str]) -> list[str]:
    value = entry.get(key, [])
    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        problems.append(f"{label}: expected a list of names for '{key}', found {value!r}")
        return []
    if len(set(value)) < len(value):
        problems.append(f"{label}: '{key}' lists a name twice")
    return value


def _exclude_cycles(segments: list[Segment]) -> list[str]:
    """Segments that exclude each other in a ring have no well-defined members; name each ring once."""
    excludes = {segment.name: segment.exclude for segment in segments}
    done: set[str] = set()
    problems = []

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            ring = path[path.index(name) :] + [name]
            problems.append(f"segment '{name}': 'exclude' goes round in a circle: {' -> '.join(ring)}")
            return
        if name in done:
            return
        for other in excludes.get(name, ()):
            visit(other, path + [name])
        done.add(name)

    for name in excludes:
        visit(name, [])
    return problems


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), repr(value)
    )
