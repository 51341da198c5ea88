"""The access model — the only place that decides who sees and changes what.

- ``roles``: which side of the plan each role is on.
- ``scope``: which rows a caller may read; every read of patient data is built from it.
- ``visibility``: what a caller sees inside a plan in scope (consent, note visibility).
- ``consent``: which consents are in force, as SQL.
- ``policy``: who may change what (ownership, kinds, team, consent, records).
- ``sensitivity``: how each change is classed in the change feed.
"""
