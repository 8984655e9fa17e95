"""What the assistant is waiting for, and the one state object that goes to and from Rasa slots.

:class:`Awaiting` names every question the assistant can have asked (the
``awaiting`` slot); :class:`Flow` every conversation an answer continues (the
``flow`` slot). Slots hold the plain values, so stored trackers and the
domain.yml slot types stay as they were; :class:`ConversationState` reads
them into enums, and a new patient's name (the ``new_patient_name`` slot,
"first|last" for compatibility) is packed and unpacked only here.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Optional


class Awaiting(str, enum.Enum):
    """The assistant's last question; the patient's next text is read as its answer."""

    PATIENT_CHOICE = "patient_choice"      # which of the phone's patients
    WHICH_APPOINTMENT = "which_appointment"
    CANCEL_CONFIRM = "cancel_confirm"      # "Reply Y to cancel"
    OFFER_RESCHEDULE = "offer_reschedule"  # after a cancel: find a new time?
    TIME_PREFERENCE = "time_preference"    # what day and time?
    SLOT_CHOICE = "slot_choice"            # which of the offered times
    NEW_PATIENT_NAME = "new_patient_name"
    NEW_PATIENT_DOB = "new_patient_dob"
    STAFF_FOLLOWUP = "staff_followup"      # an unknown number: have staff call?


class Flow(str, enum.Enum):
    """The conversation an answer continues."""

    CONFIRM = "confirm"
    CANCEL = "cancel"
    CHECK = "check"
    RESCHEDULE = "reschedule"
    BOOK = "book"
    CANCELLED = "cancelled"  # a cancel done, a new time offered


def _enum(kind: type[enum.Enum], value: Any) -> Any:
    """The member, or None for no value or one no longer known (a tracker stored by an older release)."""
    try:
        return None if value is None else kind(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class NewPatientName:
    first: str
    last: str

    def to_slot(self) -> str:
        return f"{self.first}|{self.last}"

    @classmethod
    def from_slot(cls, value: Optional[str]) -> "NewPatientName":
        first, last = (value or "|").split("|", 1)
        return cls(first, last)


@dataclass(frozen=True)
class ConversationState:
    """The conversation's own state as the slots hold it."""

    awaiting: Optional[Awaiting] = None
    flow: Optional[Flow] = None
    fallback_count: int = 0
    new_patient_name: Optional[NewPatientName] = None

    @classmethod
    def from_slots(cls, slot: Callable[[str], Any]) -> "ConversationState":
        name = slot("new_patient_name")
        return cls(awaiting=_enum(Awaiting, slot("awaiting")), flow=_enum(Flow, slot("flow")),
                   fallback_count=int(slot("fallback_count") or 0),
                   new_patient_name=NewPatientName.from_slot(name) if name else None)


def slot_value(value: Any) -> Any:
    """What a slot stores: enums as their plain value, a name packed, anything else as it is."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, NewPatientName):
        return value.to_slot()
    return value
