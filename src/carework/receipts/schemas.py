from __future__ import annotations

from datetime import datetime

from carework.schema import Output
from carework.vocab import Side


class SeenRead(Output):
    """The version of an item a party last saw, and when."""

    party: Side
    version: int
    at: datetime
