"""The segment rule language: parsing, precedence, types, null semantics, errors with positions, injection.

Semantics are checked by running the compiled SQL on DuckDB, not by reading it.
"""

import random
import re

import duckdb
import pytest

from pwh.segments.features import DEFAULT_FEATURES
from pwh.segments.rules import MAX_DEPTH, RuleError, compile_rule

FEATURES = {**DEFAULT_FEATURES, "signup_date": "date", "last_seen_at": "timestamp"}
SQL_TYPES = {
    "number": "double",
    "text": "varchar",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


@pytest.fixture(scope="module")
def db():
    with duckdb.connect() as connection:
        yield connection


def holds(db, rule: str, **values) -> bool:
    """Evaluate a rule for one person whose features are `values` (missing ones are null)."""
    compiled = compile_rule(rule, FEATURES)
    columns = [f'cast(? as {SQL_TYPES[FEATURES[name]]}) as "{name}"' for name in compiled.features]
    parameters = [values.get(name) for name in compiled.features]
    [(result,)] = db.execute(
        f"select {compiled.sql} from (select {', '.join(columns) or '1 as one'})", parameters
    ).fetchall()
    assert result is True or result is False  # never null
    return result


def error_for(rule: str, **kwargs) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(rule, FEATURES, **kwargs)
    return caught.value


def outside_text(sql: str) -> str:
    """The SQL with its text literals removed, for checks on what is left."""
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


# --- compiling


def test_the_issue_example_compiles_to_null_safe_sql():
    compiled = compile_rule("purchases_7d >= 1 and product_views_7d >= 3", FEATURES)
    assert compiled.sql == (
        'coalesce((coalesce("purchases_7d" >= 1, false) and coalesce("product_views_7d" >= 3, false)), false)'
    )
    assert compiled.features == ("purchases_7d", "product_views_7d")
    assert compiled.text == "purchases_7d >= 1 and product_views_7d >= 3"


def test_features_are_listed_once_in_order_of_first_use():
    rule = "country = 'DE' and (age > 30 or country = 'AT') and age < 60 and is_customer"
    assert compile_rule(rule, FEATURES).features == ("country", "age", "is_customer")


def test_and_binds_tighter_than_or(db):
    sql = compile_rule("is_customer or has_email and marketing_opt_in", FEATURES).sql
    assert sql == (
        'coalesce((coalesce("is_customer", false) or '
        '(coalesce("has_email", false) and coalesce("marketing_opt_in", false))), false)'
    )
    for a in (True, False):
        for b in (True, False):
            for c in (True, False):
                expected = a or (b and c)
                got = holds(
                    db,
                    "is_customer or has_email and marketing_opt_in",
                    is_customer=a,
                    has_email=b,
                    marketing_opt_in=c,
                )
                assert got == expected, (a, b, c)


def test_not_binds_tighter_than_and_and_parentheses_override(db):
    assert holds(db, "not is_customer and has_email", is_customer=False, has_email=True)
    assert not holds(db, "not is_customer and has_email", is_customer=False, has_email=False)
    assert holds(db, "not (is_customer and has_email)", is_customer=False, has_email=False)
    assert not holds(db, "(is_customer or has_email) and marketing_opt_in", is_customer=True, has_email=True)


def test_arithmetic_follows_the_usual_precedence(db):
    assert holds(db, "revenue_30d - revenue_90d * 2 = -10", revenue_30d=10, revenue_90d=10)
    assert holds(db, "(revenue_30d - revenue_90d) * 2 = 0", revenue_30d=10, revenue_90d=10)
    assert holds(db, "revenue_30d / purchases_30d > 50", revenue_30d=120, purchases_30d=2)
    assert holds(db, "-age < -(-1) - 20", age=30)
    assert holds(db, "revenue_30d - -5 = 15", revenue_30d=10)  # '- -' is two minus signs, not a comment


def test_dividing_by_zero_gives_no_value_rather_than_an_error(db):
    assert not holds(db, "revenue_30d / purchases_30d > 50", revenue_30d=120, purchases_30d=0)
    assert holds(db, "revenue_30d / purchases_30d is null", revenue_30d=120, purchases_30d=0)
    assert "nullif" in compile_rule("revenue_30d / purchases_30d > 50", FEATURES).sql


def test_between_in_and_is_null(db):
    assert holds(db, "age between 18 and 30", age=18)
    assert not holds(db, "age not between 18 and 30", age=30)
    assert holds(db, "country in ('DE', 'AT')", country="AT")
    assert holds(db, "country not in ('DE', 'AT')", country="FR")
    assert holds(db, "days_since_last_purchase is null")
    assert holds(db, "days_since_last_purchase is not null", days_since_last_purchase=3)
    assert holds(db, "age in (20 + 1, 30)", age=21)


def test_a_comparison_with_a_missing_value_is_false(db):
    assert not holds(db, "days_since_last_purchase > 60")
    assert not holds(db, "days_since_last_purchase <= 60")
    assert not holds(db, "country <> 'DE'")
    assert not holds(db, "country not in ('DE')")
    assert not holds(db, "age between 1 and 99")
    assert not holds(db, "purchased_since_last_cart")
    # the comparison is false, so its negation holds: "did not buy in the last 30 days"
    assert holds(db, "not (days_since_last_purchase < 30)")
    assert holds(db, "not purchased_since_last_cart")
    assert holds(db, "days_since_last_purchase > 60 or days_since_last_purchase is null")


def test_keywords_ignore_case_but_feature_names_do_not(db):
    assert holds(db, "age BETWEEN 1 And 99 AND Not is_customer Or FALSE", age=5, is_customer=False)
    assert "unknown feature 'Age'" in str(error_for("Age > 1"))


def test_not_equal_is_written_the_standard_way():
    assert compile_rule("age != 3", FEATURES).sql == compile_rule("age <> 3", FEATURES).sql
    assert (
        "<>" in compile_rule("age != 3", FEATURES).sql and "!=" not in compile_rule("age != 3", FEATURES).sql
    )


def test_literals_are_printed_from_their_parsed_values(db):
    assert compile_rule("age = 007", FEATURES).sql == 'coalesce("age" = 7, false)'
    assert (
        compile_rule("interest_music >= 0.350", FEATURES).sql == 'coalesce("interest_music" >= 0.350, false)'
    )
    assert compile_rule("country = 'it''s'", FEATURES).sql == "coalesce(\"country\" = 'it''s', false)"
    assert holds(db, "country = 'it''s'", country="it's")
    assert holds(db, "is_customer = true and has_email <> true", is_customer=True, has_email=False)
    assert holds(db, "true")


def test_dates_and_timestamps_compare_with_iso_text(db):
    import datetime as dt

    sql = compile_rule("signup_date >= '2026-01-31'", FEATURES).sql
    assert sql == "coalesce(\"signup_date\" >= date '2026-01-31', false)"
    assert holds(db, "signup_date between '2026-01-01' and '2026-01-31'", signup_date=dt.date(2026, 1, 5))
    # an offset is turned into UTC, the warehouse's time zone
    sql = compile_rule("last_seen_at < '2026-01-31T20:00:00+02:00'", FEATURES).sql
    assert "timestamp '2026-01-31 18:00:00'" in sql
    assert holds(db, "last_seen_at < '2026-01-31 18:00'", last_seen_at=dt.datetime(2026, 1, 31, 17, 59))


def test_spark_dialect_quotes_names_with_backticks_and_escapes_backslashes():
    compiled = compile_rule("country = 'a\\b''c' and age > 1", FEATURES, dialect="spark")
    assert (
        compiled.sql
        == "coalesce((coalesce(`country` = 'a\\\\b\\'c', false) and coalesce(`age` > 1, false)), false)"
    )


def test_a_bad_catalogue_or_dialect_is_refused():
    with pytest.raises(ValueError, match="not a plain feature name"):
        compile_rule("x > 1", {'x" or 1=1 --': "number"})
    with pytest.raises(ValueError, match="not a plain feature name"):
        compile_rule("x > 1", {"and": "number"})
    with pytest.raises(ValueError, match="has type 'integer'"):
        compile_rule("x > 1", {"x": "integer"})
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        compile_rule("age > 1", FEATURES, dialect="mysql")


# --- errors: segment, field, column, what was found and what was expected, and a caret


def test_the_error_message_points_at_the_column():
    error = error_for("purchases_7d >= 1 and purchases_7d foo", segment="active_shoppers")
    assert str(error) == (
        "segment 'active_shoppers': rule column 36: expected a comparison operator after 'purchases_7d', found 'foo'\n"
        "    purchases_7d >= 1 and purchases_7d foo\n"
        "                                       ^"
    )
    assert isinstance(error, ValueError)
    assert (error.segment, error.field, error.line, error.column) == ("active_shoppers", "rule", 1, 36)


def test_a_multi_line_rule_reports_line_and_column():
    error = error_for("purchases_7d >= 1\n  and purchace_7d > 2", field="stay_rule")
    assert str(error).startswith("stay_rule line 2 column 7: expected a feature name, found unknown feature")
    assert str(error).endswith("\n      and purchace_7d > 2\n          ^")


@pytest.mark.parametrize(
    ("rule", "column", "message"),
    [
        ("", 1, "expected a condition, found an empty rule"),
        ("purchases_7d foo", 14, "expected a comparison operator after 'purchases_7d', found 'foo'"),
        (
            "purchases_7d >= 1 and",
            22,
            "expected a feature name or a value after 'and', found the end of the rule",
        ),
        ("purchases_7d >=", 16, "expected a feature name or a value after '>=', found the end of the rule"),
        ("(purchases_7d >= 1", 19, "expected ')' to close the '(' at column 1, found the end of the rule"),
        ("purchases_7d >= 1)", 18, "expected 'and', 'or' or the end of the rule after '1', found ')'"),
        ("age > 1 age < 5", 9, "expected 'and', 'or' or the end of the rule after '1', found 'age'"),
        ("age < 1 < 5", 9, "expected 'and', 'or' or the end of the rule after '1', found '<'"),
        ("country = 'DE", 11, "expected a closing quote for this text, found the end of the rule"),
        ("age > 1; drop", 8, "expected a feature, a value or an operator, found ';'"),
        ('country = "DE"', 11, "found '\"' (text values take single quotes, feature names no quotes)"),
        ("age > 1 && is_customer", 9, "found '&' (write 'and')"),
        ("purchase_7d >= 1", 1, "found unknown feature 'purchase_7d' (did you mean 'purchases_7d'"),
        ("country = 3", 11, "expected text to compare with 'country', found a number '3'"),
        ("age > 'thirty'", 7, "expected a number to compare with 'age', found text 'thirty'"),
        ("purchases_7d and is_customer", 1, "expected a true/false condition, found a number 'purchases_7d'"),
        ("not country", 5, "expected a true/false condition, found text 'country'"),
        ("revenue_30d + 1", 1, "expected a true/false condition, found a number 'revenue_30d + 1'"),
        ("country + 1 > 2", 1, "expected a number for '+', found text 'country'"),
        ("-is_customer", 2, "expected a number for '-', found true/false 'is_customer'"),
        ("country = null", 11, "expected a value, found null (test for a missing value with 'is null')"),
        ("is_customer < true", 13, "expected numbers, text or dates around '<', found true/false"),
        ("age between 1 or 5", 15, "expected 'and' between the two bounds after '1', found 'or'"),
        ("age between 'a' and 5", 13, "expected a number to compare with 'age', found text 'a'"),
        ("country in 'DE'", 12, "expected '(' to start the list after 'in', found 'DE'"),
        ("country in ('DE', 3)", 19, "expected text to compare with 'country', found a number '3'"),
        ("country in ('DE' 'AT')", 18, "expected ',' or ')' after 'DE', found 'AT'"),
        ("country in ()", 13, "expected a feature name or a value after '(', found ')'"),
        ("age not 5", 9, "expected 'between' or 'in' after 'not', found '5'"),
        ("age is 5", 8, "expected 'null' or 'not null' after 'is', found '5'"),
        ("signup_date > '2026-13-01'", 15, "expected a date like '2026-01-31', found '2026-13-01'"),
        (
            "signup_date > last_seen_at",
            15,
            "expected a date to compare with 'signup_date', found a timestamp",
        ),
        ("country = 'DE\u200b'", 14, "expected visible characters in text, found U+200B ZERO WIDTH SPACE"),
        ("\uff50urchases_7d >= 1", 1, "found U+FF50 FULLWIDTH LATIN SMALL LETTER P"),
        ("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "expected at most 50 levels"),
        ("not " * (MAX_DEPTH + 1) + "true", 4 * MAX_DEPTH + 1, "expected at most 50 levels"),
    ],
)
def test_each_error_names_its_position_what_was_found_and_what_was_expected(rule, column, message):
    error = error_for(rule, segment="s")
    assert error.column == column
    assert message in str(error)
    assert str(error).startswith(f"segment 's': rule column {column}: ")
    assert str(error).splitlines()[-1] == " " * (4 + column - 1) + "^"


def test_long_flat_rules_compile_without_deep_recursion():
    rule = " and ".join(f"age > {n}" for n in range(3000))
    assert compile_rule(rule, FEATURES).sql.count("coalesce") == 3001
    assert compile_rule(" + ".join(["age"] * 3000) + " > 1", FEATURES).features == ("age",)


# --- injection: hostile input fails to parse or comes out as an inert literal


@pytest.mark.parametrize(
    "rule",
    [
        "x; drop table y",
        "purchases_7d >= 1; drop table person_features",
        "purchases_7d >= 1 -- and false",
        "purchases_7d >= 1 /* comment */",
        "purchases_7d >= (select 1)",
        "purchases_7d >= 1 union select 1",
        '"purchases_7d" >= 1',
        "`purchases_7d` >= 1",
        "[purchases_7d] >= 1",
        'person_id = "x" or "1"="1"',
        "purchases_7d >= $1",
        "purchases_7d >= ?",
        "purchases_7d >= :limit",
        "purchases_7d >= @var",
        "purchases_7d >= 1e3",
        "purchases_7d >= 0x10",
        "country = 'DE' || 'x'",
        "country = E'\\x27'",
        "country = 'DE",
        "country = 'DE''",
        "exec('rm -rf /')",
        "__import__('os').system('id')",
        "purchases_7d\\u003e1",
        "\uff50urchases_7d >= 1",  # fullwidth letter
        "\u0440urchases_7d >= 1",  # Cyrillic letter that looks like p
        "purchases_7d\u200b >= 1",  # zero-width space
        "purchases_7d >= 1\u00a0or true",  # no-break space: whitespace to Spark, not to us
        "purchases_7d >= 1 \u2028 or true",  # line separator
        "purchases_7d >= 1 \u202e or true",  # right-to-left override
        "country = 'DE\u202e'",
        "country = 'a\x00b'",
        "country = 'a\nb'",
        "purchases_7d >= 1 \x00",
    ],
)
def test_hostile_rules_fail_to_parse(rule):
    error_for(rule)


EVIL_TEXT = [
    "'; drop table person_features; --",
    "' or 1=1 --",
    "x' or 'a'='a",
    "Robert'); DROP TABLE Students;--",
    "/* */ */",
    "\\'; drop table person_features; --",
    "\\",
    '"; select 1; --',
    "\uff07 or 1=1",  # fullwidth apostrophe
    "$$ or true $$",
    "%s {0} ${x}",
    "M\u00fcnchen",
    "",
]


def test_hostile_text_values_are_inert_literals():
    with duckdb.connect() as db:
        db.execute("create table person_features (person_id integer, country varchar)")
        db.executemany("insert into person_features values (?, ?)", list(enumerate(EVIL_TEXT)))
        for person_id, value in enumerate(EVIL_TEXT):
            rule = "country = '" + value.replace("'", "''") + "'"
            sql = compile_rule(rule, FEATURES).sql
            assert not re.search(r";|--|/\*", outside_text(sql)), sql
            found = db.execute(f"select person_id from person_features where {sql}").fetchall()
            assert found == [(person_id,)], (value, sql)
        assert db.execute("select count(*) from person_features").fetchone() == (len(EVIL_TEXT),)


TOKENS = [
    *["purchases_7d", "country", "is_customer", "age", "signup_date", "nope", "select", "drop"],
    *["1", "0.5", "007", "'DE'", "'it''s'", "'; drop table t; --'", "'2026-01-31'", "'\\'", "''"],
    *["and", "or", "not", "between", "in", "is", "null", "true", "false"],
    *["(", ")", ",", "=", "<>", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"],
    *["--", "/*", "*/", ";", '"', "`", "'", "\\", "$1", "?", "\u200b", "\u0440", "\n", "\t"],
]


def random_rule(generator: random.Random, depth: int = 0) -> str:
    """A rule from the grammar, with hostile text values."""
    choice = generator.choice
    if depth > 2 or generator.random() < 0.4:
        number = choice(["age", "purchases_7d", "-age", "age / purchases_7d", "age * 2 + 1", "0.35", "7"])
        text = "'" + choice(EVIL_TEXT).replace("'", "''") + "'"
        return choice(
            [
                f"{number} {choice(['=', '<>', '!=', '<', '<=', '>', '>='])} {number}",
                f"country {choice(['=', '<>', '<'])} {text}",
                f"country {choice(['in', 'not in'])} ({text}, {text})",
                f"{number} {choice(['between', 'not between'])} {number} and {number}",
                f"{choice(['country', 'age', 'signup_date'])} is {choice(['', 'not '])}null",
                "signup_date > " + choice(["'2026-01-31'", text]),
                choice(["is_customer", "true", "false"]),
            ]
        )
    if generator.random() < 0.2:
        return f"not ({random_rule(generator, depth + 1)})"
    op = choice(["and", "or"])
    return f"({random_rule(generator, depth + 1)}) {op} {random_rule(generator, depth + 1)}"


def test_random_rules_never_escape_the_language():
    """Any rule, well-formed or mangled, either raises RuleError or compiles to SQL that DuckDB runs
    and that names only catalogue columns, with no statement separator or comment outside text."""
    generator = random.Random(20260101)
    compiled = 0
    with duckdb.connect() as db:
        columns = ", ".join(f'"{name}" {SQL_TYPES[type_]}' for name, type_ in FEATURES.items())
        db.execute(f"create table person_features ({columns})")
        db.execute(
            "insert into person_features (person_id, age, country) values ('a', 30, 'DE'), ('b', null, null)"
        )
        for attempt in range(3000):
            if attempt % 3 == 0:  # token soup
                words = [generator.choice(TOKENS) for _ in range(generator.randint(1, 7))]
            else:  # a grammatical rule, sometimes with a stray token dropped in
                words = random_rule(generator).split(" ")
                if attempt % 3 == 2:
                    words.insert(generator.randint(0, len(words)), generator.choice(TOKENS))
            rule = (" " if generator.random() < 0.8 else "").join(words)
            try:
                sql = compile_rule(rule, FEATURES).sql
            except RuleError:
                continue
            compiled += 1
            rest = outside_text(sql)
            assert not re.search(r";|--|/\*", rest), (rule, sql)
            assert set(re.findall(r'"([^"]*)"', rest)) <= set(FEATURES), (rule, sql)
            db.execute(f"select count(*) from person_features where {sql}").fetchone()
    assert compiled > 500  # many grammatical rules compile, so the checks above did run
