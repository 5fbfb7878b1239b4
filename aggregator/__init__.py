"""Migrant-smuggling news aggregator.

The flow, one module per stage (see docs/ and DESIGN):

    sources (feeds/*.toml) | fetch | parse | normalize | store | publish

``fetch`` and ``store`` touch the world; ``parse``, ``normalize`` and the
rendering half of ``publish`` are pure functions of their input and ``now``.
"""

__version__ = "0.1.0"
