from __future__ import annotations

from carework.bodies import Input, LongText
from carework.vocab import Visibility


class NoteCreate(Input):
    text: LongText
    visibility: Visibility


class PatientNoteCreate(Input):
    """The patient writes to the whole care team; there is no internal patient note."""

    text: LongText
