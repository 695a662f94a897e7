"""Segments: audiences that marketers define as rules over person features, in segments.yml.

`load_segments()` reads and validates the catalogue; each `Segment` carries SQL compiled from its rules
by the small rule language in `pwh.segments.rules`. Building memberships is the nightly step's job.
"""

from pwh.segments.catalogue import (
    DEFAULT_SEGMENTS_PATH,
    Segment,
    SegmentError,
    load_segments,
    parse_segments,
)
from pwh.segments.features import DEFAULT_FEATURES, FEATURE_DESCRIPTIONS, THEMES
from pwh.segments.rules import FEATURE_TYPES, CompiledRule, RuleError, compile_rule

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_SEGMENTS_PATH",
    "FEATURE_DESCRIPTIONS",
    "FEATURE_TYPES",
    "THEMES",
    "CompiledRule",
    "RuleError",
    "Segment",
    "SegmentError",
    "compile_rule",
    "load_segments",
    "parse_segments",
]
