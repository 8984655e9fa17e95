"""The practice's data: one module, one obvious place for every table.

Times are stored in UTC and always come back timezone-aware (see
:class:`UTCDateTime`). Constraints do the guarding: a unique slot claim per
provider and 15-minute step is what makes double booking impossible, a
unique channel message id per channel (SMS: Twilio's MessageSid) is what makes a
retry harmless. A :class:`Conversation` is who the assistant talks with on one
channel (SMS: one phone number); texts, tickets and commands belong to one.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import relationship, synonym
from sqlalchemy.types import TypeDecorator

from bot.db import Base


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the database; use aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


# --- The practice -----------------------------------------------------------

class Practice(Base):
    """The one practice this database serves (a group runs one database each)."""

    __tablename__ = "practice"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    phone = Column(String(20), nullable=False)
    fax = Column(String(20))
    address = Column(String(300), nullable=False)
    parking = Column(Text)
    timezone = Column(String(64), nullable=False)
    office_hours = Column(JSON, nullable=False)  # {"mon": ["08:00", "17:00"], ...}
    min_lead_minutes = Column(Integer, nullable=False, default=120)
    slot_step_minutes = Column(Integer, nullable=False, default=15)
    config = Column(JSON, nullable=False, default=dict)  # queues, routing, reminders


class ClosedDate(Base):
    __tablename__ = "closed_date"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False, unique=True)
    name = Column(String(120), nullable=False)


appointment_type_provider = Table(
    "appointment_type_provider",
    Base.metadata,
    Column("appointment_type_id", ForeignKey("appointment_type.id", ondelete="CASCADE"), primary_key=True),
    Column("provider_id", ForeignKey("provider.id", ondelete="CASCADE"), primary_key=True),
)


class Provider(Base):
    __tablename__ = "provider"
    id = Column(Integer, primary_key=True)
    key = Column(String(40), nullable=False, unique=True)
    name = Column(String(120), nullable=False)
    display_name = Column(String(120), nullable=False)  # "Dr. Patel": what texts say
    active = Column(Boolean, nullable=False, default=True)
    hours = relationship("ProviderHours", cascade="all, delete-orphan", order_by="ProviderHours.weekday")
    appointment_types = relationship(
        "AppointmentType", secondary=appointment_type_provider, back_populates="providers"
    )


class ProviderHours(Base):
    """A provider's working window on one weekday (0 = Monday), local time."""

    __tablename__ = "provider_hours"
    id = Column(Integer, primary_key=True)
    provider_id = Column(ForeignKey("provider.id", ondelete="CASCADE"), nullable=False)
    weekday = Column(Integer, nullable=False)
    start = Column(Time, nullable=False)
    end = Column(Time, nullable=False)
    __table_args__ = (UniqueConstraint("provider_id", "weekday"),)


class AppointmentType(Base):
    __tablename__ = "appointment_type"
    id = Column(Integer, primary_key=True)
    key = Column(String(40), nullable=False, unique=True)
    name = Column(String(120), nullable=False)
    minutes = Column(Integer, nullable=False)
    sensitive = Column(Boolean, nullable=False, default=False)  # never named in a text
    recall_months = Column(Integer)  # e.g. 12 for a yearly physical
    providers = relationship(
        "Provider", secondary=appointment_type_provider, back_populates="appointment_types"
    )


# --- Patients and appointments -----------------------------------------------

class Patient(Base):
    """A patient. One phone may belong to several (a parent texting for children)."""

    __tablename__ = "patient"
    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False, index=True)  # E.164
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    date_of_birth = Column(Date)
    language = Column(String(10), nullable=False, default="en")
    is_new = Column(Boolean, nullable=False, default=False)  # registered by text, not yet seen
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    external_id = Column(String(40), unique=True)  # the practice-management system's id (bill imports)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class AppointmentStatus(str, enum.Enum):
    """FHIR R4 Appointment.status codes the practice uses."""

    PROPOSED = "proposed"
    PENDING = "pending"
    BOOKED = "booked"
    ARRIVED = "arrived"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    NOSHOW = "noshow"


ACTIVE_STATUSES = (AppointmentStatus.PROPOSED, AppointmentStatus.PENDING, AppointmentStatus.BOOKED)


class ChangedBy(str, enum.Enum):
    PATIENT_SMS = "patient_sms"
    STAFF = "staff"
    SYSTEM = "system"


class Appointment(Base):
    __tablename__ = "appointment"
    id = Column(Integer, primary_key=True)
    patient_id = Column(ForeignKey("patient.id"), nullable=False, index=True)
    provider_id = Column(ForeignKey("provider.id"), nullable=False)
    appointment_type_id = Column(ForeignKey("appointment_type.id"), nullable=False)
    start = Column(UTCDateTime, nullable=False, index=True)
    end = Column(UTCDateTime, nullable=False)
    status = Column(_enum(AppointmentStatus, "appointment_status"), nullable=False)
    confirmed_at = Column(UTCDateTime)  # the patient confirmed (by text or phone)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # True after every insert and every update made through SQLAlchemy (ORM or Core: ``onupdate``); reminder
    # planning clears it once it has planned the row as it stands. Raw SQL that moves, cancels or retypes
    # an appointment must set it too (see bot.messaging.reminders.plan_reminders).
    needs_planning = Column(Boolean, nullable=False, default=True, onupdate=True, server_default=true())
    patient = relationship("Patient")
    provider = relationship("Provider")
    appointment_type = relationship("AppointmentType")
    changes = relationship("AppointmentChange", order_by="AppointmentChange.id",
                           cascade="all, delete-orphan")
    __table_args__ = (Index("ix_appointment_planning", "needs_planning", "start"),)


class AppointmentChange(Base):
    """When, by whom and to what status each appointment changed."""

    __tablename__ = "appointment_change"
    id = Column(Integer, primary_key=True)
    appointment_id = Column(ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(_enum(AppointmentStatus, "appointment_status"), nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    changed_by = Column(_enum(ChangedBy, "changed_by"), nullable=False)
    staff_user_id = Column(ForeignKey("staff_user.id"))
    note = Column(String(200))


class SlotClaim(Base):
    """One row per provider and slot step an active appointment occupies.

    The primary key makes overlapping bookings impossible: the second insert of
    the same (provider, step) fails, whatever the processes or database.
    """

    __tablename__ = "slot_claim"
    provider_id = Column(ForeignKey("provider.id"), primary_key=True)
    step_start = Column(UTCDateTime, primary_key=True)
    appointment_id = Column(ForeignKey("appointment.id", ondelete="CASCADE"), nullable=False, index=True)


# --- Consent -------------------------------------------------------------------

class ConsentStatus(str, enum.Enum):
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


class ConsentPurpose(str, enum.Enum):
    """What a text is for; consent is given and withdrawn per purpose (bot.messaging.consent says how)."""

    CARE = "care"            # appointments, reminders, recall, waitlist offers, replies
    BILLING = "billing"      # bill-ready notices
    MARKETING = "marketing"  # only with written consent
    ALL = "all"              # a record for every purpose at once: STOP


class ConsentSource(str, enum.Enum):
    """How a consent record came to be; the column stores the plain value."""

    INTAKE_FORM = "intake_form"    # written: the signed intake form
    VERBAL = "verbal"              # told to staff
    TEXT_REPLY = "text_reply"      # a text answering our question
    WEB_CHAT = "web_chat"
    KEYWORD = "keyword"            # STOP, START ... (bot.messaging.inbound)
    NLU = "nlu"                    # "please stop texting me"
    CARRIER = "twilio_21610"       # Twilio refused a text: the phone unsubscribed there
    STAFF = "staff"


class ConsentRecord(Base):
    """Every change of a phone's consent to texts of a purpose; per purpose, the newest one
    (of that purpose or ``all``) is in force."""

    __tablename__ = "consent_record"
    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False)
    status = Column(_enum(ConsentStatus, "consent_status"), nullable=False)
    purpose = Column(String(20), nullable=False, default=ConsentPurpose.CARE.value, server_default="care")
    source = Column(String(40), nullable=False)  # a ConsentSource value
    detail = Column(String(200))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_consent_phone_id", "phone", "id"),)


class WrongNumberReport(Base):
    """Someone at ``phone`` said it is not this patient's number: no automated text goes to it for them.

    Reminders, recall and waitlist offers for the patient skip this phone until
    staff fix the record (a new phone on the patient) or clear the report
    (``cleared_at``). Texting a reassigned number is a TCPA liability.
    """

    __tablename__ = "wrong_number_report"
    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False, index=True)
    patient_id = Column(ForeignKey("patient.id"), nullable=False)
    reported_at = Column(UTCDateTime, nullable=False)
    detail = Column(String(200))  # the text that said so
    ticket_id = Column(ForeignKey("handoff_ticket.id"))  # the front desk's ticket to fix the record
    cleared_at = Column(UTCDateTime)


class WelcomeText(Base):
    """The carriers' one-time welcome, sent before the first automated text to a phone: once per phone, ever."""

    __tablename__ = "welcome_text"
    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False)
    sent_at = Column(UTCDateTime, nullable=False)
    outbound_id = Column(ForeignKey("outbound_message.id"))
    __table_args__ = (UniqueConstraint("phone", name="uq_welcome_text_phone"),)


# --- Conversations and messages ------------------------------------------------------

class Channel(str, enum.Enum):
    """How a conversation reaches the patient; a new channel is a member here plus a folder under channels/."""

    SMS = "sms"  # address: the E.164 phone number
    WEB_CHAT = "web_chat"  # address: the chat's random id (bot.messaging.web_chat)


class Conversation(Base):
    """Who the assistant talks with on one channel: SMS, one phone number.

    Get one with :func:`bot.messaging.conversations.conversation_for` (race-free
    get-or-create); the unique (channel, address) is what keeps it one.
    """

    __tablename__ = "conversation"
    id = Column(Integer, primary_key=True)
    channel = Column(_enum(Channel, "channel"), nullable=False)
    address = Column(String(120), nullable=False)  # SMS: E.164
    language = Column(String(10))  # the conversation's language, when known (None: the patient's or the default)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_conversation_channel_address"),)


class WebChat(Base):
    """A visitor's chat from the practice's website: anonymous until a phone is verified.

    ``chat_id`` is the conversation's address; the visitor proves it is theirs with a token
    whose hash only is stored. ``verified_phone`` is set once a code sent by SMS is entered.
    """

    __tablename__ = "web_chat"
    id = Column(Integer, primary_key=True)
    chat_id = Column(String(64), nullable=False)
    token_hash = Column(String(64), nullable=False)
    conversation_id = Column(ForeignKey("conversation.id"), nullable=False)
    client_address = Column(String(64), nullable=False)
    origin = Column(String(200))
    created_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    verified_phone = Column(String(20))
    verified_at = Column(UTCDateTime)
    conversation = relationship("Conversation")
    __table_args__ = (UniqueConstraint("chat_id", name="uq_web_chat_chat_id"),
                      UniqueConstraint("conversation_id", name="uq_web_chat_conversation_id"))


class WebChatCode(Base):
    """A 6-digit code texted to a phone a chat visitor gave: hashed, 10 minutes, 5 tries."""

    __tablename__ = "web_chat_code"
    id = Column(Integer, primary_key=True)
    web_chat_id = Column(ForeignKey("web_chat.id"), nullable=False, index=True)
    phone = Column(String(20), nullable=False)
    code_hash = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)
    tries = Column(Integer, nullable=False, default=0)
    used_at = Column(UTCDateTime)


class RateHit(Base):
    """One counted request under a named limit ("chat-message:<chat id>", "chat-address:<ip>", ...).

    Counted in the database so every server of a group sees the same count."""

    __tablename__ = "rate_hit"
    id = Column(Integer, primary_key=True)
    key = Column(String(120), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    __table_args__ = (Index("ix_rate_hit_key_at", "key", "at"),)


class InboundMessage(Base):
    """A patient's text, stored before anything else happens to it."""

    __tablename__ = "inbound_message"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversation.id"), nullable=False, index=True)
    channel = Column(_enum(Channel, "channel"), nullable=False)  # the conversation's, for the unique key below
    channel_message_id = Column(String(64), nullable=False)  # the channel's own id (SMS: Twilio's MessageSid)
    message_sid = synonym("channel_message_id")  # the SMS channel's name for it
    phone = Column(String(20), index=True)  # the sender's phone (SMS); None on a channel without one
    to_number = Column(String(20))
    body = Column(Text, nullable=False, default="")  # whole, up to 1,600 characters
    media = Column(JSON, nullable=False, default=list)  # [{"url", "content_type"}]
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)
    status = Column(String(20), nullable=False, default="received")  # received, processing, processed, failed
    claimed_at = Column(UTCDateTime)  # when a Rasa server took it for processing
    processed_at = Column(UTCDateTime)
    intent = Column(String(40))
    confidence = Column(Float)
    ticket_id = Column(ForeignKey("handoff_ticket.id"))
    outcome = Column(String(20))  # how it ended: replied, with_staff, handed_to_staff, ... (bot.messaging.inbound)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")  # turns tried (Rasa failures)
    opt_out_type = Column(String(10))  # Twilio's OptOutType (STOP, START, HELP) for a configured keyword
    conversation = relationship("Conversation")
    __table_args__ = (UniqueConstraint("channel", "channel_message_id", name="uq_inbound_channel_message"),)


class OutboundStatus(str, enum.Enum):
    PENDING = "pending"      # stored, not yet handed to Twilio
    SENDING = "sending"      # claimed by a sender; Twilio may or may not have it
    QUEUED = "queued"        # Twilio accepted it
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    BLOCKED = "blocked"      # never sent: the number opted out


class OutboundMessage(Base):
    """The outbox: every text to a patient is stored here before it is sent."""

    __tablename__ = "outbound_message"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversation.id"), nullable=False, index=True)
    phone = Column(String(20), index=True)  # where it goes (SMS); None on a channel without a phone
    body = Column(Text, nullable=False)
    kind = Column(String(20), nullable=False)  # reply, staff, reminder, consent, system
    status = Column(_enum(OutboundStatus, "outbound_status"), nullable=False,
                    default=OutboundStatus.PENDING, index=True)
    twilio_sid = Column(String(64), unique=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime)
    claimed_by = Column(String(80))
    sent_at = Column(UTCDateTime)
    status_at = Column(UTCDateTime)
    error_code = Column(Integer)
    error_message = Column(String(300))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    ticket_id = Column(ForeignKey("handoff_ticket.id"))
    staff_user_id = Column(ForeignKey("staff_user.id"))
    give_up_at = Column(UTCDateTime)   # retries (429, 5xx, network) stop here: created_at + 24 h
    alerted_at = Column(UTCDateTime)   # when staff were told it has not gone out
    conversation = relationship("Conversation")


# --- Handoff and the staff inbox -----------------------------------------------

class TicketStatus(str, enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class HandoffTicket(Base):
    """A conversation the bot handed to a staff queue."""

    __tablename__ = "handoff_ticket"
    id = Column(Integer, primary_key=True)
    queue = Column(String(20), nullable=False, index=True)  # front_desk, billing, clinical, urgent
    reason = Column(String(300), nullable=False)
    status = Column(_enum(TicketStatus, "ticket_status"), nullable=False,
                    default=TicketStatus.OPEN, index=True)
    conversation_id = Column(ForeignKey("conversation.id"), nullable=False, index=True)
    phone = Column(String(20), index=True)  # the conversation's phone (SMS); None on a channel without one
    patient_id = Column(ForeignKey("patient.id"))
    intent = Column(String(40))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)  # the answer time promised to the patient
    claimed_by = Column(ForeignKey("staff_user.id"))
    claimed_at = Column(UTCDateTime)
    first_response_at = Column(UTCDateTime)
    resolved_at = Column(UTCDateTime)
    resolved_by = Column(ForeignKey("staff_user.id"))
    last_activity_at = Column(UTCDateTime, nullable=False, default=utcnow)
    patient = relationship("Patient")
    conversation = relationship("Conversation")
    notes = relationship("TicketNote", order_by="TicketNote.id", cascade="all, delete-orphan")


class TicketNote(Base):
    """An internal note on a ticket: staff only, never texted."""

    __tablename__ = "ticket_note"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    staff_user_id = Column(ForeignKey("staff_user.id"))  # None: written by the assistant (a failed hand-back)
    body = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class OnCallPage(Base):
    """One step of paging the on-call staff about an urgent ticket: step 0 at once, then the escalation.

    The unique (ticket, step) is what makes each step go out exactly once, whatever
    the workers or restarts: the row and its outbox text are written in one
    transaction, and a second insert of the same step fails.
    """

    __tablename__ = "on_call_page"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    step = Column(Integer, nullable=False)  # 0: the on-call number; 1, 2...: the escalation
    phone = Column(String(20), nullable=False)  # the staff number paged
    paged_at = Column(UTCDateTime, nullable=False)
    outbound_id = Column(ForeignKey("outbound_message.id"))
    __table_args__ = (UniqueConstraint("ticket_id", "step", name="uq_on_call_page_step"),)


class MissedCallText(Base):
    """The text back to a caller whose call nobody answered: at most one per phone and practice-local day.

    The unique (phone, local day) is what keeps it one, however many servers take
    Twilio's callbacks: the row and its outbox text are written in one savepoint,
    and a second insert for the same caller and day fails.
    """

    __tablename__ = "missed_call_text"
    id = Column(Integer, primary_key=True)
    phone = Column(String(20), nullable=False)  # the caller (E.164)
    local_day = Column(Date, nullable=False)  # the day of the call on the practice's wall clock
    call_sid = Column(String(64), nullable=False)  # Twilio's CallSid of the missed call
    dial_status = Column(String(20), nullable=False)  # Twilio's DialCallStatus: no-answer, busy, failed, canceled
    missed_at = Column(UTCDateTime, nullable=False)
    outbound_id = Column(ForeignKey("outbound_message.id"))
    __table_args__ = (UniqueConstraint("phone", "local_day", name="uq_missed_call_text_phone_day"),)


class CommandKind(str, enum.Enum):
    """What Rasa is told about a conversation: staff let it go (resume) or took it again (pause)."""

    RESUME = "resume"
    PAUSE = "pause"


class CommandStatus(str, enum.Enum):
    PENDING = "pending"          # not yet confirmed by Rasa (retried with backoff)
    DONE = "done"                # Rasa confirmed
    FAILED = "failed"            # given up after the last attempt; staff were told on the ticket
    SUPERSEDED = "superseded"    # a newer command for the conversation (or an open ticket) made it moot


class ConversationCommand(Base):
    """A pause or resume for Rasa, stored with the ticket change that needs it and delivered until confirmed.

    Resolve writes a resume, reopen a pause, in the same transaction, so no
    ticket change is without its command; :mod:`bot.staff.handback` delivers them.
    """

    __tablename__ = "conversation_command"
    id = Column(Integer, primary_key=True)
    kind = Column(_enum(CommandKind, "command_kind"), nullable=False)
    conversation_id = Column(ForeignKey("conversation.id"), nullable=False, index=True)
    phone = Column(String(20), index=True)  # the conversation's phone (SMS); None on a channel without one
    ticket_id = Column(ForeignKey("handoff_ticket.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(_enum(CommandStatus, "command_status"), nullable=False, default=CommandStatus.PENDING)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    claimed_until = Column(UTCDateTime)  # a deliverer is sending it until then
    last_error = Column(String(300))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    done_at = Column(UTCDateTime)
    conversation = relationship("Conversation")
    __table_args__ = (Index("ix_conversation_command_due", "status", "next_attempt_at"),)


class StaffRole(str, enum.Enum):
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    CLINICAL = "clinical"
    ADMIN = "admin"


class StaffUser(Base):
    __tablename__ = "staff_user"
    id = Column(Integer, primary_key=True)
    username = Column(String(80), nullable=False, unique=True)
    display_name = Column(String(120), nullable=False)
    password_hash = Column(String(300), nullable=False)
    role = Column(_enum(StaffRole, "staff_role"), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StaffSession(Base):
    """A login. Kept in the database so any web worker can check or end it."""

    __tablename__ = "staff_session"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(128), nullable=False, unique=True)
    staff_user_id = Column(ForeignKey("staff_user.id"), nullable=False)
    csrf_token = Column(String(128), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    ended_at = Column(UTCDateTime)
    staff_user = relationship("StaffUser")


class LoginFailure(Base):
    """A wrong password (or unknown username): what the login lockout and the global limit count."""

    __tablename__ = "login_failure"
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    username = Column(String(80), nullable=False)
    client_address = Column(String(64), nullable=False)
    __table_args__ = (Index("ix_login_failure_who", "username", "client_address", "at"),)


class CannedResponse(Base):
    """A reply template kept by admins, in one language; placeholders like {first_name}."""

    __tablename__ = "canned_response"
    id = Column(Integer, primary_key=True)
    title = Column(String(120), nullable=False, unique=True)
    body = Column(Text, nullable=False)
    language = Column(String(8), nullable=False, default="en", server_default="en")  # the body's: "en", "es"


class AuditEntry(Base):
    """Who viewed or replied to which conversation, and every refusal."""

    __tablename__ = "audit_entry"
    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    staff_user_id = Column(ForeignKey("staff_user.id"))
    action = Column(String(40), nullable=False)  # view, reply, claim, resolve, denied, login...
    ticket_id = Column(ForeignKey("handoff_ticket.id"))
    detail = Column(String(300))


# --- Reminders, recall and the waitlist -------------------------------------------

class ReminderStatus(str, enum.Enum):
    PLANNED = "planned"
    CLAIMED = "claimed"
    SENT = "sent"
    SKIPPED = "skipped"   # opted out, cancelled appointment, cap reached...
    DROPPED = "dropped"   # quiet hours pushed it past the appointment


class Reminder(Base):
    """An automated text planned for an appointment (or a recall)."""

    __tablename__ = "reminder"
    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)  # appointment, recall, recall_followup
    appointment_id = Column(ForeignKey("appointment.id", ondelete="CASCADE"), index=True)
    patient_id = Column(ForeignKey("patient.id"))
    phone = Column(String(20), nullable=False, index=True)
    offset_key = Column(String(20), nullable=False)  # "2d", "2h", "recall"...
    due_at = Column(UTCDateTime, nullable=False)
    send_at = Column(UTCDateTime, nullable=False, index=True)  # due_at moved out of quiet hours
    status = Column(_enum(ReminderStatus, "reminder_status"), nullable=False,
                    default=ReminderStatus.PLANNED, index=True)
    claimed_by = Column(String(80))
    claimed_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)
    outbound_id = Column(ForeignKey("outbound_message.id"))
    reason = Column(String(200))
    __table_args__ = (UniqueConstraint("kind", "appointment_id", "patient_id", "offset_key"),)


class ReminderPlanning(Base):
    """The one row reminder planning keeps between passes: the schedule it last planned for.

    A pass that finds the practice's schedule different marks every booked
    appointment ahead for planning again. The row is also the planners' lock
    (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock does it there),
    so two workers' passes never overlap.
    """

    __tablename__ = "reminder_planning"
    id = Column(Integer, primary_key=True)
    schedule = Column(Text)  # JSON of what planning depends on: zone, offsets, per-type offsets, quiet hours


class WaitlistEntry(Base):
    """A patient who asked for an earlier slot."""

    __tablename__ = "waitlist_entry"
    id = Column(Integer, primary_key=True)
    patient_id = Column(ForeignKey("patient.id"), nullable=False)
    phone = Column(String(20), nullable=False, index=True)
    provider_id = Column(ForeignKey("provider.id"))
    appointment_type_id = Column(ForeignKey("appointment_type.id"), nullable=False)
    appointment_id = Column(ForeignKey("appointment.id"))  # the booking they want to move up
    window_start = Column(UTCDateTime, nullable=False)
    window_end = Column(UTCDateTime, nullable=False)
    status = Column(String(20), nullable=False, default="waiting")  # waiting, booked, withdrawn
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class WaitlistOffer(Base):
    """A freed slot offered by text to a waitlisted patient; first yes wins."""

    __tablename__ = "waitlist_offer"
    id = Column(Integer, primary_key=True)
    entry_id = Column(ForeignKey("waitlist_entry.id", ondelete="CASCADE"), nullable=False)
    provider_id = Column(ForeignKey("provider.id"), nullable=False)
    appointment_type_id = Column(ForeignKey("appointment_type.id"), nullable=False)
    start = Column(UTCDateTime, nullable=False)
    offered_at = Column(UTCDateTime, nullable=False, default=utcnow)
    status = Column(String(20), nullable=False, default="offered")  # offered, accepted, taken, expired
    appointment_id = Column(ForeignKey("appointment.id"))


# --- Bills -------------------------------------------------------------------------

class BillStatement(Base):
    """A statement imported from the practice-management system (``python -m bot bills import``).

    Only what a bill-ready text needs: whose, which (the practice's own statement id, unique), when,
    and whether it is paid (a paid statement gets no follow-up). Never an amount or a service.
    """

    __tablename__ = "bill_statement"
    id = Column(Integer, primary_key=True)
    statement_id = Column(String(64), nullable=False, unique=True)
    patient_id = Column(ForeignKey("patient.id"), nullable=False, index=True)
    phone = Column(String(20), nullable=False, index=True)
    statement_date = Column(Date, nullable=False)
    imported_at = Column(UTCDateTime, nullable=False)
    paid_at = Column(UTCDateTime)


class BillText(Base):
    """One step (``ready``, ``follow_up``) of one statement: sent or skipped with the reason, exactly once.

    The unique (statement, step) is what makes two workers' passes send each step once.
    """

    __tablename__ = "bill_text"
    id = Column(Integer, primary_key=True)
    statement_id = Column(ForeignKey("bill_statement.id", ondelete="CASCADE"), nullable=False)
    step = Column(String(20), nullable=False)
    status = Column(String(20), nullable=False)  # sent, skipped
    reason = Column(String(200))
    outbound_id = Column(ForeignKey("outbound_message.id"))
    created_at = Column(UTCDateTime, nullable=False)
    __table_args__ = (UniqueConstraint("statement_id", "step", name="uq_bill_text_step"),)


# --- Broadcasts ------------------------------------------------------------------------

class Broadcast(Base):
    """A text staff sent to the patients with appointments on one day (``bot.messaging.broadcasts``).

    ``template`` is the catalog text chosen (each recipient's language) or None for staff's own ``body``.
    """

    __tablename__ = "broadcast"
    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    provider_id = Column(ForeignKey("provider.id"))
    template = Column(String(60))
    body = Column(Text, nullable=False)
    cancel_appointments = Column(Boolean, nullable=False, default=False)
    staff_user_id = Column(ForeignKey("staff_user.id"))
    created_at = Column(UTCDateTime, nullable=False)
    cancelled_at = Column(UTCDateTime)
    cancelled_by = Column(ForeignKey("staff_user.id"))
    recipients = relationship("BroadcastRecipient", order_by="BroadcastRecipient.id", cascade="all, delete-orphan")


class BroadcastRecipient(Base):
    """One phone of a broadcast: its text in the outbox, or why it was skipped; unique per broadcast and phone."""

    __tablename__ = "broadcast_recipient"
    id = Column(Integer, primary_key=True)
    broadcast_id = Column(ForeignKey("broadcast.id", ondelete="CASCADE"), nullable=False, index=True)
    phone = Column(String(20), nullable=False)
    outbound_id = Column(ForeignKey("outbound_message.id"))
    skipped = Column(String(40))  # opted_out, no_care_consent, wrong_number, no_phone
    __table_args__ = (UniqueConstraint("broadcast_id", "phone", name="uq_broadcast_recipient_phone"),)


__all__ = [name for name in dir() if not name.startswith("_")]
