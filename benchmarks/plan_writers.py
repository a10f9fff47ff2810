"""The compiled executor's object writers: generated Python (`ObjectPlan.write`, built by
`exec` from the plan) against generic writers over the plan objects themselves, which
loop over an object's fields and dispatch on each field's kind with the same shortcuts
(attribute access where the value is an attribute, strings passed through unchanged, a
null refused where the schema promises a value): `plan` reads each part off the
`FieldPlan`, `rows` unpacks each field's parts from a tuple prepared once per plan.

Each writes the whole answer of the Business API document's example query over the key
slice with every scope: the real plan, and the objects the graph's types hold, built
from canonical records the way the read functions build them (25 participants with their
consent, 10 registrations and 10 purchases each). The fields that load are driven level
by level as `_Run.run` drives them, except that each read answers at once with the value
already built for its parent: what is measured is the writing (with the getters and
serialisers it calls, and the same small driver for every writer), not the reads. The
answers are asserted equal first.

Two figures per writer, for a machine other work runs on: instructions per answer,
counted by valgrind's callgrind (a run writing `--answers` answers less a run writing
none, the start-up being the same), and the best of many `timeit` rounds.

    python benchmarks/plan_writers.py [--answers 50] [--rounds 200] [--no-callgrind]

`--only exec|plan|rows|none` writes one writer's answers and nothing else: what each
callgrind run executes (`PYTHONHASHSEED=0 valgrind --tool=callgrind python
benchmarks/plan_writers.py --only exec`, then `callgrind_annotate` or the out file's
`summary:` line for the total).
"""

from __future__ import annotations

import argparse
import decimal
import gc
import os
import random
import re
import subprocess
import sys
import tempfile
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from graphql import GraphQLID, GraphQLString, parse

from schema.api import Query
from schema.engine import compiled
from schema.engine.analysis import analyse
from schema.engine.compiled import LEAF, LOADS, OBJECT, TYPENAME, ObjectPlan
from schema.example import EXAMPLE_QUERY
from schema.policy import SchemaSlices, load_policy
from schema.records import (
    ConsentRecord,
    ParticipantKey,
    ParticipantRecord,
    ProductRecord,
    PurchaseRecord,
    RegistrationRecord,
)
from schema.scalars import Instant
from schema.source import BusinessRecord
from schema.types.business import Business
from schema.types.pagination import build_connection, paginate_list
from schema.types.participant import BusinessParticipant, EmailMarketingConsent, _node_factory

ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "policies" / "business-api.toml"
PARTICIPANTS, REGISTRATIONS, PURCHASES = 25, 10, 10


# -- the plan-object writers


def write(run: Any, plan: ObjectPlan, value: Any, path: Any) -> dict[str, Any]:
    """One object's response dict, read off its plan's fields."""
    out: dict[str, Any] = {}
    for f in plan.fields:
        kind, key = f.kind, f.key
        if kind == LEAF:
            v = f.get(value) if f.attribute is None else getattr(value, f.attribute)
            if v is None:
                out[key] = None if f.nullable else compiled._null()
            elif v.__class__ is str and f.verbatim:
                out[key] = v
            else:
                out[key] = f.serialize(v)
        elif kind == OBJECT:
            v = f.get(value) if f.attribute is None else getattr(value, f.attribute)
            if v is None:
                out[key] = None if f.nullable else compiled._null()
            else:
                child = f.child
                out[key] = write(run, child, v, (path, key) if child.loads else None)
        elif kind == LOADS:
            out[key] = None
            run.pending.append((f, value, out, (path, key)))
        elif kind == TYPENAME:
            out[key] = plan.type_name
        else:  # LEAVES and OBJECTS: the general completion
            v = f.get(value) if f.attribute is None else getattr(value, f.attribute)
            out[key] = run.complete(f, v, (path, key))
    return out


def write_rows(run: Any, plan: ObjectPlan, value: Any, path: Any) -> dict[str, Any]:
    """`write` over each field's parts unpacked from a tuple: no attribute read per part,
    and a getter always (an attribute's is `attrgetter`, in C)."""
    out: dict[str, Any] = {}
    for key, kind, get, serialize, verbatim, nullable, child, f in plan.rows:
        if kind == LEAF:
            v = get(value)
            if v is None:
                out[key] = None if nullable else compiled._null()
            elif verbatim and v.__class__ is str:
                out[key] = v
            else:
                out[key] = serialize(v)
        elif kind == OBJECT:
            v = get(value)
            if v is None:
                out[key] = None if nullable else compiled._null()
            else:
                out[key] = write_rows(run, child, v, (path, key) if child.loads else None)
        elif kind == LOADS:
            out[key] = None
            run.pending.append((f, value, out, (path, key)))
        elif kind == TYPENAME:
            out[key] = plan.type_name
        else:
            out[key] = run.complete(f, get(value), (path, key))
    return out


def prepare(plan: ObjectPlan) -> None:
    """What the generated writer decides while it is generated, decided once on the plan:
    an attribute read only where it is an identifier, whether strings pass as they are,
    and (for `write_rows`) each field's parts in a tuple."""
    for f in plan.fields:
        if f.attribute is not None and not f.attribute.isidentifier():
            f.attribute = None
        serialize = f.serialize
        f.verbatim = serialize is GraphQLString.serialize or serialize is GraphQLID.serialize
        if f.child is not None:
            prepare(f.child)
    plan.rows = tuple(
        (f.key, f.kind, f.get, f.serialize, f.verbatim, f.nullable, f.child, f) for f in plan.fields
    )


def run_writing(writer: Callable[..., dict[str, Any]]) -> type[compiled._Run]:
    """`_Run` with the objects it completes (lists, loaded objects) written by `writer`
    instead of the generated writers."""

    class Run(compiled._Run):
        def complete(self, plan: Any, value: Any, path: Any) -> Any:
            child = plan.child
            if child is None:  # leaves: no object to write
                return super().complete(plan, value, path)
            if value is None:
                return None if plan.nullable else compiled._null()
            if not plan.returns_list:
                return writer(self, child, value, path)
            if not plan.items_nullable and None in value:
                compiled._null()
            if child.loads:
                return [
                    None if item is None else writer(self, child, item, (path, i))
                    for i, item in enumerate(value)
                ]
            return [None if item is None else writer(self, child, item, None) for item in value]

    return Run


# -- the answer


def answer(run: Any, write_root: Callable[[Any], dict[str, Any]], reads: dict[Any, Any]) -> Any:
    """`_Run.run` with every read answered by the value built for its parent."""
    data = write_root(run)
    while run.pending:
        pending, run.pending = run.pending, []
        for f, parent, out, path in pending:
            out[f.key] = run.complete(f, reads[f.key, id(parent)], path)
    return data


def built_reads() -> dict[Any, Any]:
    """What each read answers, by (field, parent): the objects of the example's answer."""
    rng = random.Random(24)

    def provider_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128)))

    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def instant(hours: int) -> Instant:
        found = Instant.of(start + timedelta(hours=hours, seconds=rng.randrange(3600)))
        assert found is not None
        return found

    business = BusinessRecord(
        id=1,
        public_id="biz_" + provider_id().replace("-", "")[:16],
        handle="tremble",
        name="Tremble Studio",
        rate_limit_per_minute=None,
        created_at=start,
    )
    connection = "con_" + provider_id().replace("-", "")[:16]
    root = Business(record=business)
    participants = [
        BusinessParticipant(
            record=ParticipantRecord(
                key=ParticipantKey(connection, provider_id()),
                name=f"Participant {i:03d}",
                email=f"participant.{i:03d}@example.com" if i % 7 else None,
                phone=None,
                created_at=instant(i),
                provider="wix",
            ),
            business=business,
        )
        for i in range(PARTICIPANTS)
    ]
    reads: dict[Any, Any] = {
        ("activeBusiness", id(None)): root,
        ("participants", id(root)): build_connection(
            participants,
            list(range(1, PARTICIPANTS + 1)),
            encode=str,
            has_next_page=True,
            has_previous_page=False,
        ),
    }
    consents = ("granted", "denied", "pending", "unknown")
    registration_statuses = ("confirmed", "attended", "pending", "cancelled", "waitlisted")
    purchase_statuses = ("paid", "paid", "pending", "refunded", "partially_paid")
    for i, participant in enumerate(participants):
        status = consents[i % len(consents)]
        reads["emailMarketingConsent", id(participant)] = (
            EmailMarketingConsent(
                record=ConsentRecord(status, instant(i) if status != "unknown" else None)
            )
            if i % 5
            else None
        )
        registrations = [
            RegistrationRecord(
                provider_id=provider_id(),
                status=(state := registration_statuses[j % len(registration_statuses)]),
                confirmed_at=instant(24 * j) if state in ("confirmed", "attended") else None,
                session_id=provider_id(),
                created_at=instant(24 * j - 48),
            )
            for j in range(REGISTRATIONS)
        ]
        purchases = [
            PurchaseRecord(
                provider_id=provider_id(),
                status=purchase_statuses[j % len(purchase_statuses)],
                price_paid=decimal.Decimal(f"{rng.randrange(5, 200)}.{rng.randrange(100):02d}"),
                currency_code="USD",
                purchased_at=instant(24 * j),
                product=ProductRecord(provider_id(), f"Class pack {j % 4 + 1}"),
                created_at=instant(24 * j),
            )
            for j in range(PURCHASES)
        ]
        for key, relation, records in (
            ("registrations", "registrations", registrations),
            ("productPurchases", "purchases", purchases),
        ):
            reads[key, id(participant)] = paginate_list(
                records,
                first=10,
                offset=0,
                make_node=_node_factory(participant, relation),
                encode=str,
            )
    return reads


def built_plan() -> tuple[compiled.Plan, Any]:
    slices = SchemaSlices(load_policy(POLICY_PATH), Query)
    schema = slices.for_scopes(frozenset(slices.policy.scopes))
    document = parse(EXAMPLE_QUERY)
    built = compiled.build(schema, document, None, None)
    assert not isinstance(built, list), built
    plan = compiled.compile_plan(schema, analyse(document, schema._schema), built)
    assert plan is not None
    return plan, built


WRITERS = ("exec", "plan", "rows")


class Writers:
    """Each writer over a plan of its own, the reads, and one answer each to compare."""

    def __init__(self) -> None:
        self.reads = built_reads()
        context = object()  # nothing reads: the reads are answered from `reads`
        generated, built = built_plan()
        self.runs: dict[str, Callable[[], Any]] = {
            "exec": lambda: answer(
                compiled._Run(context, built),
                lambda run: generated.root.write(run, None, None),
                self.reads,
            ),
            "none": lambda: None,
        }
        for name, writer in (("plan", write), ("rows", write_rows)):
            self.runs[name] = self.plan_objects(writer, context)
        data = self.runs["exec"]()
        for name in WRITERS:
            assert self.runs[name]() == data, f"{name} answers differently"
        nodes = data["activeBusiness"]["participants"]["nodes"]
        assert len(nodes) == PARTICIPANTS
        assert all(len(n["registrations"]["nodes"]) == REGISTRATIONS for n in nodes)
        assert all(len(n["productPurchases"]["nodes"]) == PURCHASES for n in nodes)
        self.fields = _count(data)

    def plan_objects(self, writer: Callable[..., Any], context: Any) -> Callable[[], Any]:
        plan, built = built_plan()
        prepare(plan.root)
        run_class = run_writing(writer)
        return lambda: answer(
            run_class(context, built), lambda run: writer(run, plan.root, None, None), self.reads
        )


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count(v) for v in value)
    return 0


# -- measuring


def only(writer: str, answers: int) -> None:
    """Write `answers` answers with one writer; the run callgrind counts."""
    run = Writers().runs[writer]
    gc.disable()  # as timeit does: the collector's passes are not the writer's
    for _ in range(answers):
        run()


def instructions(writer: str, answers: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--only",
                writer,
                "--answers",
                str(answers),
            ],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        assert found, "no summary line in callgrind's output"
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=50, help="answers per callgrind run")
    parser.add_argument("--rounds", type=int, default=200, help="timeit rounds per writer")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--only", choices=(*WRITERS, "none"))
    args = parser.parse_args()
    if args.only:
        only(args.only, args.answers)
        return
    writers = Writers()
    print(
        f"the example's answer: {writers.fields} keys written ({PARTICIPANTS} participants, "
        f"{REGISTRATIONS} registrations and {PURCHASES} purchases each); Python {sys.version}"
    )
    counted: dict[str, float] = {}
    if not args.no_callgrind:
        baseline = instructions("none", args.answers)
        print(f"callgrind, {args.answers} answers: {baseline:,} Ir without writing")
        for writer in WRITERS:
            total = instructions(writer, args.answers)
            counted[writer] = (total - baseline) / args.answers
            print(f"callgrind, {args.answers} answers: {total:,} Ir with {writer}")
    # Alternated, 10 answers a round: a busy spell of the machine hits every writer alike.
    best = dict.fromkeys(WRITERS, float("inf"))
    for _ in range(args.rounds):
        for writer in WRITERS:
            took = timeit.timeit(writers.runs[writer], number=10) / 10
            best[writer] = min(best[writer], took)
    print(f"{'writer':<6} {'Ir per answer':>14} {'':>6} {'best time per answer':>21} {'':>6}")
    for writer in WRITERS:
        ir = (
            f"{counted[writer]:>14,.0f} {counted[writer] / counted['exec']:>6.3f}"
            if counted
            else ""
        )
        took = f"{best[writer] * 1e6:>18.1f} µs {best[writer] / best['exec']:>6.3f}"
        print(f"{writer:<6} {ir or '-':>21} {took}")


if __name__ == "__main__":
    main()
