"""Who may see what in the staff inbox: which queues a role answers, which visit types it may read.

Which roles answer a queue is the practice file's ``queues.<name>.roles``.
The four built-in queue names keep their roles when the file lists none
(:data:`DEFAULT_QUEUE_ROLES`); any other queue must list them (the practice
file's check refuses it otherwise). Deny by default: a role no queue lists
sees no queue. The inbox checks every ticket route against
:func:`may_see_queue` and audits each refusal.
"""
from __future__ import annotations

from bot.models import AppointmentType, Practice, StaffRole, StaffUser

ADMIN = StaffRole.ADMIN.value
FRONT_DESK, BILLING, CLINICAL = StaffRole.FRONT_DESK.value, StaffRole.BILLING.value, StaffRole.CLINICAL.value

# The roles answering each built-in queue when the practice file names none; urgent texts reach whoever
# can act on them.
DEFAULT_QUEUE_ROLES: dict[str, tuple[str, ...]] = {
    "front_desk": (FRONT_DESK, ADMIN),
    "billing": (BILLING, ADMIN),
    "clinical": (CLINICAL, ADMIN),
    "urgent": (FRONT_DESK, CLINICAL, ADMIN),
}
ALL_QUEUES = tuple(DEFAULT_QUEUE_ROLES)

# Who may read the name of a sensitive visit type (behavioral health, women's health...): the
# clinicians and admins. Others see that there is a visit, when and with whom, not what for.
ROLES_SEEING_SENSITIVE_TYPES = frozenset({StaffRole.CLINICAL.value, StaffRole.ADMIN.value})


def role_of(user: StaffUser) -> str:
    """The role's name; a user built in code may hold the name itself until it is loaded back."""
    return StaffRole(user.role).value


def queue_roles(practice: Practice | None) -> dict[str, tuple[str, ...]]:
    """Each queue's answering roles: the practice's ``queues`` (None: the four built-in queues' defaults)."""
    if practice is None:
        return dict(DEFAULT_QUEUE_ROLES)
    return {name: tuple(queue.get("roles") or DEFAULT_QUEUE_ROLES.get(name, ()))
            for name, queue in ((practice.config or {}).get("queues") or {}).items()}


def visible_queues(role: str, practice: Practice | None = None) -> tuple[str, ...]:
    """The queues ``role`` answers, in the practice file's order."""
    return tuple(queue for queue, roles in queue_roles(practice).items() if role in roles)


def may_see_queue(role: str, queue: str, practice: Practice | None = None) -> bool:
    return role in queue_roles(practice).get(queue, ())


def may_see_visit_type(role: str, appointment_type: AppointmentType) -> bool:
    return not appointment_type.sensitive or role in ROLES_SEEING_SENSITIVE_TYPES
