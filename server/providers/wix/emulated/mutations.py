"""Changes to an emulated Wix site (`POST /__mutate`), in Wix's own terms.

A participant is a contact (`name`, `email`, `phone`; consent is the email subscription of
the contact's address, changed with `subscriptionStatus`), a registration a booking
(`participant` = contact id, `session` = calendar session id, `status`), a purchase an
eCommerce order (`participant`, `product` = catalog item id, `quantity`, `paymentStatus`,
`status`). Every record a change writes gets the change's moment as `updatedDate` (and as
`createdDate` when it is new) and a higher `revision`, so Wix's `updatedDate` queries see
it. A contact's email change leaves the old address's subscription, and the contact's
bookings and orders keep the contact details they were made with, as on Wix.

Removing a contact removes their bookings (freeing their seats), their orders and the
email subscription of their address: the person is erased, and Wix would otherwise keep
bookings and orders that belong to nobody the graph can show.

Records are never edited in place (the data set passed to the emulator may be shared):
each change replaces the records it touches with new ones.
"""

from __future__ import annotations

from collections.abc import Callable

from server.providers.emulated.mutations import Change, Done, Json
from server.providers.wix.emulated import bookings, orders
from server.providers.wix.emulated.dataset import prune
from server.providers.wix.emulated.draft import SUBSCRIPTION_STATUSES, Draft, Product, label

KINDS = ("participant", "registration", "purchase")


def apply(draft: Draft, change: Change, products: dict[str, Product]) -> Done:
    """Apply `change` to `draft`; what was done."""
    handlers: dict[tuple[str, str], Callable[[Draft, Change], Done]] = {
        ("participant", "add"): _add_contact,
        ("participant", "change"): _change_contact,
        ("participant", "remove"): _remove_contact,
        ("registration", "add"): bookings.add_booking,
        ("registration", "change"): bookings.change_booking,
        ("registration", "remove"): bookings.remove_booking,
        ("purchase", "add"): lambda d, c: orders.add_order(d, c, products),
        ("purchase", "change"): orders.change_order,
        ("purchase", "remove"): orders.remove_order,
    }
    return handlers[(change.kind, change.op)](draft, change)


# ---------------------------------------------------------------- contacts


def _name(full: str | None) -> Json:
    first, _, last = (full or "").partition(" ")
    return {"first": first, "last": last.strip()}


def _check_email_free(draft: Draft, email: str | None, change: Change, own: str = "") -> None:
    wanted = (email or "").lower()
    for contact in draft.contacts:
        theirs = str(contact.get("primaryInfo", {}).get("email", "")).lower()
        if wanted and contact["id"] != own and theirs == wanted:
            raise change.error(409, f"A contact with email {email} already exists")


def _add_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "phone", "subscriptionStatus", "session", "status")
    name, email = change.text("name"), change.text("email")
    email = email.lower() if email else None
    consent = change.choice("subscriptionStatus", SUBSCRIPTION_STATUSES)
    if consent and not email:
        raise change.error(400, "subscriptionStatus needs the contact's email")
    _check_email_free(draft, email, change)
    contact = prune(
        {
            "id": draft.new_id("contact"),
            "revision": 1,
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
            "info": {"name": _name(name)},
            "primaryInfo": {"email": email, "phone": change.text("phone")},
        }
    )
    draft.contacts.append(contact)
    done = Done(change, contact["id"], draft.stamp, f"added contact {label(contact)}")
    done.record = contact
    done.touch("participant", "add", contact["id"], "contact")
    if consent:
        _set_consent(draft, done, contact, consent)
    if change.get("session") is not None:
        booking = bookings.book(draft, change, contact, change.need("session"))
        done.done += f", booked into {booking['bookedEntity']['title']} ({booking['status']})"
        done.touch("registration", "add", booking["id"], "booking")
    elif change.get("status") is not None:
        raise change.error(400, "status is a booking's: give the session too")
    return done


def _change_contact(draft: Draft, change: Change) -> Done:
    change.allow("name", "email", "phone", "subscriptionStatus")
    if not change.fields:
        raise change.error(400, "participant change needs name, email, phone or subscriptionStatus")
    index = draft.find(draft.contacts, change.id, change, "Contact")
    contact = draft.contacts[index]
    done = Done(change, contact["id"], draft.stamp, f"changed contact {label(contact)}")
    own = {key: change.get(key) for key in ("name", "email", "phone") if key in change.fields}
    if own:
        updated = {**contact, "info": dict(contact.get("info", {}))}
        primary = dict(contact.get("primaryInfo", {}))
        if "name" in own:
            updated["info"]["name"] = _name(change.text("name"))
        if "email" in own:
            email = change.text("email")
            _check_email_free(draft, email, change, own=contact["id"])
            primary["email"] = email.lower() if email else None
        if "phone" in own:
            primary["phone"] = change.text("phone")
        updated["primaryInfo"] = primary
        updated["revision"] = contact.get("revision", 0) + 1
        updated["updatedDate"] = draft.stamp
        contact = draft.contacts[index] = prune(updated)
        done.touch("participant", "change", contact["id"], "contact")
        done.done += f": {', '.join(sorted(own))}"
    consent = change.choice("subscriptionStatus", SUBSCRIPTION_STATUSES)
    if consent:
        if not contact.get("primaryInfo", {}).get("email"):
            raise change.error(409, "The contact has no email to subscribe")
        _set_consent(draft, done, contact, consent)
        done.done += f"; subscription {consent}"
    done.record = contact
    return done


def _set_consent(draft: Draft, done: Done, contact: Json, status: str) -> None:
    """The subscription of the contact's address: changed, or made."""
    email = contact["primaryInfo"]["email"]
    index = draft.subscription_of(email)
    if index is None:
        subscription = {
            "id": draft.new_id("subscription"),
            "email": email,
            "subscriptionStatus": status,
            "deliverabilityStatus": "VALID",
            "createdDate": draft.stamp,
            "updatedDate": draft.stamp,
        }
        draft.subscriptions.append(subscription)
        done.touch("participant", "add", contact["id"], "subscription")
        return
    subscription = {**draft.subscriptions[index], "subscriptionStatus": status}
    draft.subscriptions[index] = {**subscription, "updatedDate": draft.stamp}
    done.touch("participant", "change", contact["id"], "subscription")


def _remove_contact(draft: Draft, change: Change) -> Done:
    change.allow()
    contact = draft.contacts.pop(draft.find(draft.contacts, change.id, change, "Contact"))
    done = Done(change, contact["id"], draft.stamp, f"removed contact {label(contact)}")
    done.touch("participant", "remove", contact["id"], "contact")
    mine = contact["id"]
    theirs = [b for b in draft.bookings if b["contactDetails"]["contactId"] == mine]
    draft.bookings = [b for b in draft.bookings if b["contactDetails"]["contactId"] != mine]
    for booking in theirs:
        done.touch("registration", "remove", booking["id"], "booking")
    for session_id in dict.fromkeys(b["bookedEntity"]["slot"]["sessionId"] for b in theirs):
        draft.recount(session_id)
    orders = [o for o in draft.orders if o["buyerInfo"]["contactId"] == contact["id"]]
    draft.orders = [o for o in draft.orders if o["buyerInfo"]["contactId"] != contact["id"]]
    for order in orders:
        done.touch("purchase", "remove", order["id"], "order")
    index = draft.subscription_of(contact.get("primaryInfo", {}).get("email"))
    if index is not None:
        draft.subscriptions.pop(index)
    done.done += f" with {len(theirs)} bookings and {len(orders)} orders"
    return done
