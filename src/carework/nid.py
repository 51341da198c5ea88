"""Norwegian national id numbers: fødselsnummer and D-nummer (python-stdnum checks both).

Error messages here never contain the number: they end up in problem bodies and logs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from stdnum.exceptions import ValidationError
from stdnum.no import fodselsnummer


def validate_nid(value: str) -> str:
    if len(value) != 11 or not value.isdigit():
        raise ValueError("must be 11 digits")
    try:
        return str(fodselsnummer.validate(value))
    except ValidationError:
        raise ValueError("is not a valid fødselsnummer or D-nummer") from None


NationalId = Annotated[
    str,
    Field(min_length=11, max_length=11, description="Fødselsnummer or D-nummer (11 digits)."),
    AfterValidator(validate_nid),
]
