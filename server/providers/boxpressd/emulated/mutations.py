"""Changes to an emulated Boxpressd business (`POST /__mutate`), in its own terms.

A participant is a user (id `usr_…`, field `name`: the `displayName`), a registration one
of their smoke sessions (id `ses_…`, fields `rating` and `note`; its status is always
`attended`, so a `status` is refused). A user is seen at a business only through their
sessions, so adding one logs their first session; `participant` names the user of a new
session. Boxpressd has no purchases.

A new session is created at the change's moment, so it heads the list (newest first) and
a `from` query after the newest `createdAt` read finds it. Boxpressd records have no
update time (PROVIDERS.md): a new display name or rating leaves `createdAt` as it was.
Removing a user removes all their sessions; removing a user's last session leaves no trace
of them at the business (named as a participant removed too), though the user still
exists on Boxpressd.

Records are never edited in place (the data set passed to the emulator may be shared).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from server.providers.boxpressd.emulated.dataset import (
    AVATARLESS_SHARE,
    BoxpressdDataset,
    _fresh_id,
    _session,
    _user,
    _venues_for,
    catalogue_for,
    wire_order,
)
from server.providers.emulated.mutations import Change, Done, Json

KINDS = ("participant", "registration")


class Draft:
    """The business's records while one change is applied."""

    def __init__(self, dataset: BoxpressdDataset, at: datetime, stamp: str, number: int) -> None:
        self.original = dataset
        self.sessions = list(dataset.sessions)
        self.people = list(dataset.people)
        self.at, self.stamp = at, stamp
        # The same history of changes makes the same ids, cigars and ratings.
        self.rng = random.Random(f"boxpressd:{dataset.seed}:change:{number}")

    def dataset(self) -> BoxpressdDataset:
        ids = {session["id"] for session in self.sessions}
        return replace(
            self.original,
            sessions=tuple(sorted(self.sessions, key=wire_order, reverse=True)),
            people=tuple(self.people),
            featured=self.original.featured & ids,
        )

    def user(self, user_id: Any, change: Change) -> int:
        for index, person in enumerate(self.people):
            if person["id"] == user_id:
                return index
        raise change.missing(f"User {user_id}")

    def session(self, session_id: Any, change: Change) -> int:
        for index, session in enumerate(self.sessions):
            if session["id"] == session_id:
                return index
        raise change.missing(f"Session {session_id}")

    def log(self, user: Json, change: Change) -> Json:
        """A new smoke session by `user`, logged at the change's moment."""
        taken = {session["id"] for session in self.sessions}
        session_id = _fresh_id(self.rng, "ses_", 10_000_000, 100_000_000, taken)
        business = self.original.business
        session = _session(
            self.rng, session_id, self.at, user, catalogue_for(business), _venues_for(business)
        )
        session["createdAt"] = self.stamp  # to the millisecond, as stamped
        session |= _details(change)
        self.sessions.append(session)
        return session


def _details(change: Change) -> Json:
    """`rating` and `note` as the change gives them (None: the key left out)."""
    details: Json = {}
    if "rating" in change.fields:
        rating = change.fields["rating"]
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, int | float) or not 0 <= rating <= 5
        ):
            raise change.error(400, "rating must be a number from 0 to 5")
        details["rating"] = rating
    if "note" in change.fields:
        details["note"] = change.text("note")
    return details


def _without_none(session: Json) -> Json:
    return {key: value for key, value in session.items() if value is not None}


def apply(draft: Draft, change: Change) -> Done:
    if "status" in change.fields and change.kind == "registration":
        raise change.error(400, "A smoke session's status is always attended")
    handlers: dict[tuple[str, str], Callable[[Draft, Change], Done]] = {
        ("participant", "add"): _add_user,
        ("participant", "change"): _change_user,
        ("participant", "remove"): _remove_user,
        ("registration", "add"): _add_session,
        ("registration", "change"): _change_session,
        ("registration", "remove"): _remove_session,
    }
    return handlers[(change.kind, change.op)](draft, change)


def _add_user(draft: Draft, change: Change) -> Done:
    change.allow("name", "rating", "note")
    name = change.text("name", required=True)
    taken = {person["id"] for person in draft.people}
    user_id = _fresh_id(draft.rng, "usr_", 100_000, 1_000_000, taken)
    user = _user(user_id, name or "", avatar=draft.rng.random() >= AVATARLESS_SHARE)
    draft.people.append(user)
    session = _without_none(draft.log(user, change))
    draft.sessions[-1] = session
    done = Done(change, user_id, draft.stamp, f"{name} smoked a first {_cigar(session)}")
    done.record = session
    done.touch("participant", "add", user_id, "user")
    return done.touch("registration", "add", session["id"], "session")


def _change_user(draft: Draft, change: Change) -> Done:
    change.allow("name")
    name = change.text("name", required=True)
    index = draft.user(change.id, change)
    was = draft.people[index]["displayName"]
    user = {**draft.people[index], "displayName": name}
    draft.people[index] = user
    for position, session in enumerate(draft.sessions):
        if session["user"]["id"] == user["id"]:
            draft.sessions[position] = {**session, "user": {**session["user"], "displayName": name}}
    done = Done(change, user["id"], draft.stamp, f"{was} is now {name}")
    done.record = user
    return done.touch("participant", "change", user["id"], "user")


def _remove_user(draft: Draft, change: Change) -> Done:
    change.allow()
    user = draft.people.pop(draft.user(change.id, change))
    theirs = [s for s in draft.sessions if s["user"]["id"] == user["id"]]
    draft.sessions = [s for s in draft.sessions if s["user"]["id"] != user["id"]]
    done = Done(change, user["id"], draft.stamp, f"removed {user['displayName']}")
    done.done += f" and their {len(theirs)} sessions"
    done.touch("participant", "remove", user["id"], "user")
    for session in theirs:
        done.touch("registration", "remove", session["id"], "session")
    return done


def _add_session(draft: Draft, change: Change) -> Done:
    change.allow("participant", "rating", "note")
    user = draft.people[draft.user(change.need("participant"), change)]
    session = _without_none(draft.log(user, change))
    draft.sessions[-1] = session
    done = Done(change, session["id"], draft.stamp, f"{user['displayName']} smoked a")
    done.done += f" {_cigar(session)}"
    done.record = session
    return done.touch("registration", "add", session["id"], "session")


def _change_session(draft: Draft, change: Change) -> Done:
    change.allow("rating", "note")
    if not change.fields:
        raise change.error(400, "registration change needs rating or note")
    details = _details(change)
    index = draft.session(change.id, change)
    session = _without_none({**draft.sessions[index], **details})
    draft.sessions[index] = session
    what = ", ".join(f"{key} {session.get(key)}" for key in sorted(change.fields))
    done = Done(change, session["id"], draft.stamp, f"{session['user']['displayName']}: {what}")
    done.record = session
    return done.touch("registration", "change", session["id"], "session")


def _remove_session(draft: Draft, change: Change) -> Done:
    change.allow()
    session = draft.sessions.pop(draft.session(change.id, change))
    user = session["user"]
    done = Done(change, session["id"], draft.stamp, f"removed a session of {user['displayName']}")
    done.touch("registration", "remove", session["id"], "session")
    if all(other["user"]["id"] != user["id"] for other in draft.sessions):
        done.touch("participant", "remove", user["id"], "user")  # not seen here any more
    return done


def _cigar(session: Json) -> str:
    return str(session.get("cigar", {}).get("name", "cigar"))
