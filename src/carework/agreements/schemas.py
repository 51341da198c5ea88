from __future__ import annotations

from datetime import datetime

from carework.schema import Output
from carework.vocab import Side


class AgreementRead(Output):
    """One party's agreement: who agreed for it, to which version, when."""

    party: Side
    name: str
    version: int
    at: datetime
