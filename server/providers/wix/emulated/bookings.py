"""Bookings (a Wix site's registrations) added, changed and removed: see
`server.providers.wix.emulated.mutations`."""

from __future__ import annotations

from typing import Any

from server.providers.emulated.mutations import Change, Done, Json
from server.providers.wix.emulated.dataset import ACTIVE_BOOKING_STATUSES, prune
from server.providers.wix.emulated.draft import BOOKING_STATUSES, Draft, label


def book(draft: Draft, change: Change, contact: Json, session_id: Any) -> Json:
    status = change.choice("status", BOOKING_STATUSES, "CONFIRMED")
    session = draft.sessions[draft.find(draft.sessions, session_id, change, "Session")]
    if session.get("status") == "CANCELLED":
        raise change.error(409, f"Session {session_id} is cancelled")
    for booking in draft.bookings:
        if (
            booking["contactDetails"]["contactId"] == contact["id"]
            and booking["bookedEntity"]["slot"]["sessionId"] == session_id
            and booking["status"] in ACTIVE_BOOKING_STATUSES
        ):
            raise change.error(409, f"Contact {contact['id']} already booked session {session_id}")
    if status in ACTIVE_BOOKING_STATUSES and not session.get("remainingCapacity"):
        status = "WAITING_LIST"  # as the data set fills sessions: a full one waitlists
    name, primary = contact.get("info", {}).get("name", {}), contact.get("primaryInfo", {})
    booking = prune(
        {
            "id": draft.new_id("booking"),
            "status": status,
            "paymentStatus": "NOT_PAID",
            "bookedEntity": {
                "slot": {
                    "sessionId": session["id"],
                    "serviceId": session["scheduleOwnerId"],
                    "scheduleId": session["scheduleId"],
                    "startDate": session["start"]["timestamp"],
                    "endDate": session["end"]["timestamp"],
                },
                "title": session["title"],
            },
            "contactDetails": {
                "contactId": contact["id"],
                "firstName": name.get("first"),
                "lastName": name.get("last"),
                "email": primary.get("email"),
                "phone": primary.get("phone"),
            },
            "totalParticipants": 1,
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
            "revision": "1",
        }
    )
    draft.bookings.append(booking)
    draft.recount(session["id"])
    return booking


def add_booking(draft: Draft, change: Change) -> Done:
    change.allow("participant", "session", "status")
    session_id, contact_id = change.need("session"), change.need("participant")
    contact = draft.contacts[draft.find(draft.contacts, contact_id, change, "Contact")]
    booking = book(draft, change, contact, session_id)
    title = booking["bookedEntity"]["title"]
    done = Done(change, booking["id"], draft.stamp, f"booked {label(contact)} into {title}")
    done.done += f" ({booking['status']})"
    done.record = booking
    return done.touch("registration", "add", booking["id"], "booking")


def change_booking(draft: Draft, change: Change) -> Done:
    change.allow("status")
    status = change.choice("status", BOOKING_STATUSES)
    if status is None:
        raise change.error(400, "registration change needs 'status'")
    index = draft.find(draft.bookings, change.id, change, "Booking")
    booking = draft.bookings[index]
    session_id = booking["bookedEntity"]["slot"]["sessionId"]
    session = draft.sessions[draft.find(draft.sessions, session_id, change, "Session")]
    joins = status in ACTIVE_BOOKING_STATUSES and booking["status"] not in ACTIVE_BOOKING_STATUSES
    if joins and not session.get("remainingCapacity"):
        raise change.error(409, f"Session {session_id} is full")
    revision = str(int(booking.get("revision", "0")) + 1)
    updated = {**booking, "status": status, "revision": revision, "updatedDate": draft.stamp}
    draft.bookings[index] = updated
    draft.recount(session_id)
    details = booking["contactDetails"]
    who = " ".join(p for p in (details.get("firstName"), details.get("lastName")) if p)
    what = f"{who or details['contactId']}'s {booking['bookedEntity']['title']} booking {status}"
    done = Done(change, booking["id"], draft.stamp, what)
    done.record = updated
    return done.touch("registration", "change", booking["id"], "booking")


def remove_booking(draft: Draft, change: Change) -> Done:
    change.allow()
    booking = draft.bookings.pop(draft.find(draft.bookings, change.id, change, "Booking"))
    draft.recount(booking["bookedEntity"]["slot"]["sessionId"])
    done = Done(change, booking["id"], draft.stamp, f"removed booking {booking['id']}")
    return done.touch("registration", "remove", booking["id"], "booking")
