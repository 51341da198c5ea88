from __future__ import annotations

import uuid
from datetime import datetime

from carework.schema import Input, LongText, Output
from carework.vocab import Side, Visibility


class NoteCreate(Input):
    text: LongText
    visibility: Visibility


class PatientNoteCreate(Input):
    """The patient writes to the whole care team; there is no internal patient note."""

    text: LongText


class NoteRead(Output):
    id: uuid.UUID
    goal_id: uuid.UUID
    author_name: str
    author_role: str
    author_side: Side
    text: str
    visibility: Visibility
    created_at: datetime
