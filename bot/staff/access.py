"""Who may see what in the staff inbox: which queues a role answers, which visit types it may read.

Deny by default: a role not listed here sees no queue. The inbox checks every
ticket route against :func:`may_see_queue` and audits each refusal.
"""
from __future__ import annotations

from bot.models import AppointmentType, StaffRole, StaffUser

ALL_QUEUES = ("front_desk", "billing", "clinical", "urgent")

# Which queues each role answers; urgent texts reach whoever can act on them.
QUEUES_FOR_ROLE: dict[str, tuple[str, ...]] = {
    StaffRole.FRONT_DESK.value: ("front_desk", "urgent"),
    StaffRole.BILLING.value: ("billing",),
    StaffRole.CLINICAL.value: ("clinical", "urgent"),
    StaffRole.ADMIN.value: ALL_QUEUES,
}

# Who may read the name of a sensitive visit type (behavioral health, women's health...): the
# clinicians and admins. Others see that there is a visit, when and with whom, not what for.
ROLES_SEEING_SENSITIVE_TYPES = frozenset({StaffRole.CLINICAL.value, StaffRole.ADMIN.value})


def role_of(user: StaffUser) -> str:
    """The role's name; a user built in code may hold the name itself until it is loaded back."""
    return StaffRole(user.role).value


def visible_queues(role: str) -> tuple[str, ...]:
    return QUEUES_FOR_ROLE.get(role, ())


def may_see_queue(role: str, queue: str) -> bool:
    return queue in visible_queues(role)


def may_see_visit_type(role: str, appointment_type: AppointmentType) -> bool:
    return not appointment_type.sensitive or role in ROLES_SEEING_SENSITIVE_TYPES
