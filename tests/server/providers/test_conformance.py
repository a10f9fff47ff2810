"""The production transport against a reference, answer for hostile answer.

Every behaviour below is a raw provider (`tests/raw_provider.py`) answering in a way no
honest server would, run through `ProviderHttp` twice with the same limits: over
`Http1Transport` (production) and over `KeptTransport` (httpx, the reference in
`tests/kept_client.py`). Each run's outcome is normalised so the two can be compared:

- compared: the category (`ok`, `unreachable`, `timed_out`, `too_large`, `compressed`,
  `invalid_response`, or a status error's kind), the HTTP status the transport returned,
  for `ok` digests of the decoded body and of the headers, and for some behaviours a fact
  read off the provider (how many requests it received, whether one carried a cookie);
- shown, not compared: `unreachable`'s reason (the words differ between libraries for
  the same failure: "closed the connection without answering" and "connection reset"
  for a RST), httpx's exception class, the decoder's complaint, the event loop's worst
  lag during the calls, the bytes the provider managed to send, the time taken.

The set of behaviours whose compared outcomes differ must be exactly `KNOWN_DIFFERENCES`,
each with the judgement of which client is right: a new difference, or a known one that
goes away (a defect fixed), fails the test until the dict says so. The table goes to the
output (`pytest -s`) and to `artifacts/conformance.md`.

The status comes from `Witness`, a pass-through around each transport (`ProviderHttp`
returns only the decoded body). Everything runs one behaviour at a time, so a run's lag is
its own client's: the provider's threads share the GIL but mostly hand prepared bytes to
the kernel. Behaviours that end at the 2 s deadline make the module take about 30 s, hence
`slow`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server.providers.errors import (
    InvalidResponse,
    ProviderError,
    ProviderTimedOut,
    ProviderUnreachable,
)
from server.providers.http import ProviderHttp, Transport, UpstreamLimits
from server.providers.http1 import Http1Transport, Reply
from tests.kept_client import KeptError, KeptTransport
from tests.raw_provider import (
    Close,
    Hang,
    RawProvider,
    ReadRequest,
    Reset,
    Script,
    Send,
    Sleep,
    Step,
    Stream,
    Tls,
    Trickle,
    generated,
    repeated,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
REPORT = ROOT / "artifacts" / "conformance.md"

LIMITS = UpstreamLimits(timeout_seconds=2.0, max_bytes=1024 * 1024, attempts=1)
CAP = LIMITS.max_bytes
SETTLE_SECONDS = 3.0  # after the client closes, for the provider's threads to see it
ENDLESS_CEILING = 64 * 1024 * 1024  # an "endless" flood stops here (then hangs)
TICK = 0.005


# Answers.

FIRST = b'{"call": 1}'
SECOND = b'{"call": 2}'
LEFTOVER = b'{"call": "leftover"}'
JSON = b"Content-Type: application/json\r\n"


def answer(body: bytes, *headers: bytes, status: bytes = b"200 OK", sized: bool = True) -> bytes:
    """An HTTP/1.1 answer: the status, JSON's content type, `headers` (whole lines), a
    Content-Length unless not `sized`, and the body."""
    head = b"HTTP/1.1 " + status + b"\r\n" + JSON + b"".join(headers)
    if sized:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def chunked(body: bytes, size: int = 4096) -> bytes:
    """`body` as chunks of `size` bytes, and the last chunk."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\n" + JSON + b"Transfer-Encoding: chunked\r\n\r\n"
PADDED = b'{"pad": "' + b"x" * 390 + b'"}'  # 400 bytes


def reply(data: bytes, *then: Step) -> Script:
    """Read the request, send `data`, then the `then` steps."""
    return (ReadRequest(), Send(data), *then)


def two_calls(first: Script) -> tuple[Script, Script]:
    """`first` on the first connection, then `SECOND` for the request after it there;
    any later connection answers `SECOND` at once (reused or not, the same answer)."""
    return ((*first, ReadRequest(), Send(answer(SECOND))), reply(answer(SECOND)))


# Facts read off the provider after a run, compared too.


def requests_received(provider: RawProvider) -> str:
    return f"{len(provider.requests)} request(s)"


def cookie_sent(provider: RawProvider) -> str:
    sent = any(
        line.lower().startswith(b"cookie:")
        for request in provider.requests
        for line in request.split(b"\r\n")
    )
    return "cookie SENT" if sent else "no cookie"


@dataclass(frozen=True)
class Behaviour:
    id: str
    scripts: Sequence[Script]
    tls: Callable[[], Tls] | None = None
    calls: int = 1
    pause: float = 0.0  # between calls: late bytes arrive while the connection is idle
    fact: Callable[[RawProvider], str] | None = None


BEHAVIOURS: list[Behaviour] = [
    Behaviour("honest-length", [reply(answer(FIRST))]),
    Behaviour("honest-chunked", [reply(CHUNKED_HEAD + chunked(PADDED, 100))]),
    Behaviour(
        "close-delimited",
        [reply(b"HTTP/1.0 200 OK\r\n" + JSON + b"\r\n" + FIRST, Close())],
    ),
    Behaviour("continue-100", [reply(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(FIRST))]),
    # The 100 alone, the real answer 0.2 s later, and a second call straight after.
    Behaviour(
        "continue-100-then-reuse",
        two_calls(
            (
                ReadRequest(),
                Send(b"HTTP/1.1 100 Continue\r\n\r\n"),
                Sleep(0.2),
                Send(answer(FIRST)),
            )
        ),
        calls=2,
    ),
    Behaviour(
        "early-hints-103",
        [
            reply(
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
                Sleep(0.05),
                Send(answer(FIRST)),
            )
        ],
    ),
    Behaviour(
        "switching-protocols-101",
        [
            reply(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
                + answer(FIRST)
            )
        ],
    ),
    # Twenty interim answers, then the answer: more than any provider sends.
    Behaviour(
        "interim-flood-20",
        [reply(b"HTTP/1.1 100 Continue\r\n\r\n" * 20 + answer(FIRST))],
    ),
    # One field of 9 KiB, a head of 9 KiB in all.
    Behaviour("header-field-9kb", [reply(answer(FIRST, b"X-Big: " + b"b" * 9 * 1024 + b"\r\n"))]),
    # 1,100 distinct small fields, a head of about 16 KB in all.
    Behaviour(
        "header-fields-1100",
        [reply(answer(FIRST, *(b"X-F%d: v\r\n" % n for n in range(1100))))],
    ),
    # Distinct names (no quadratic join here): memory alone.
    Behaviour(
        "headers-endless",
        [
            (
                ReadRequest(),
                Send(b"HTTP/1.1 200 OK\r\n" + JSON),
                Stream(
                    generated(lambda n: b"X-Endless-%d: %s\r\n" % (n, b"v" * 64)), ENDLESS_CEILING
                ),
                Hang(),
            )
        ],
    ),
    Behaviour("header-1mb-line", [reply(answer(FIRST, b"X-Huge: " + b"a" * CAP + b"\r\n"))]),
    # 100,000 lines of one name, 32-byte values (4.6 MB), then a valid answer.
    Behaviour(
        "headers-100k-same",
        [
            (
                ReadRequest(),
                Send(b"HTTP/1.1 200 OK\r\n" + JSON),
                Stream(repeated(b"X-Repeated: %s\r\n" % (b"r" * 32), 100_000)),
                Send(b"Content-Length: %d\r\n\r\n%s" % (len(FIRST), FIRST)),
            )
        ],
    ),
    Behaviour(
        "trailers-endless",
        [
            (
                ReadRequest(),
                Send(CHUNKED_HEAD + b"%x\r\n%s\r\n0\r\n" % (len(FIRST), FIRST)),
                Stream(
                    generated(lambda n: b"X-Trailer-%d: %s\r\n" % (n, b"v" * 64)), ENDLESS_CEILING
                ),
                Hang(),
            )
        ],
    ),
    Behaviour(
        "chunk-extension-1mb",
        [reply(CHUNKED_HEAD + b"%x;ext=%s\r\n%s\r\n0\r\n\r\n" % (len(FIRST), b"e" * CAP, FIRST))],
    ),
    Behaviour(
        "chunks-1byte-4mb",
        [
            (
                ReadRequest(),
                Send(CHUNKED_HEAD + b"1\r\n{\r\n"),
                Stream(repeated(b"1\r\n \r\n", 4 * CAP)),
                Send(b"1\r\n}\r\n0\r\n\r\n"),
            )
        ],
    ),
    Behaviour(
        "chunks-1byte-20kb",
        [
            (
                ReadRequest(),
                Send(CHUNKED_HEAD + chunked(b'{"a": "', 1)[:-5]),
                Stream(repeated(b"1\r\nx\r\n", 20_000)),
                Send(chunked(b'"}', 1)),
            )
        ],
    ),
    Behaviour(
        "body-short-then-close",
        [reply(answer(PADDED)[: -len(PADDED) // 2], Close())],
    ),
    Behaviour("close-before-answer", [(ReadRequest(), Close())]),
    Behaviour("close-mid-headers", [reply(b"HTTP/1.1 200 OK\r\nContent-Ty", Close())]),
    Behaviour("reset-before-answer", [(ReadRequest(), Reset())]),
    Behaviour("reset-mid-body", [reply(answer(PADDED)[:-100], Sleep(0.05), Reset())]),
    Behaviour("not-http-then-hang", [reply(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", Hang())]),
    Behaviour("not-http-then-close", [reply(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", Close())]),
    Behaviour("status-line-invalid", [reply(answer(FIRST, status=b"2OO OK"))]),
    Behaviour(
        "content-length-twice",
        [reply(answer(FIRST, b"Content-Length: %d\r\n" % (len(FIRST) + 1)))],
    ),
    Behaviour(
        "content-length-and-chunked",
        [
            reply(
                answer(
                    chunked(FIRST),
                    b"Content-Length: 5\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    sized=False,
                )
            )
        ],
    ),
    Behaviour(
        "content-length-negative", [reply(answer(FIRST, b"Content-Length: -1\r\n", sized=False))]
    ),
    Behaviour(
        "content-length-over-cap",
        [
            (
                ReadRequest(),
                Send(b"HTTP/1.1 200 OK\r\n" + JSON + b"Content-Length: %d\r\n\r\n" % (2 * CAP)),
                Stream(repeated(b" ", 2 * CAP)),
            )
        ],
    ),
    Behaviour(
        "chunked-over-cap",
        [
            (
                ReadRequest(),
                Send(CHUNKED_HEAD),
                Stream(repeated(b"4000\r\n" + b" " * 0x4000 + b"\r\n", 2 * CAP // 0x4000)),
                Send(b"0\r\n\r\n"),
            )
        ],
    ),
    Behaviour("gzip", [reply(answer(b"\x1f\x8b\x08\x00fake", b"Content-Encoding: gzip\r\n"))]),
    Behaviour(
        "trickle-past-deadline",
        [(ReadRequest(), Trickle(answer(PADDED), size=10, every=0.1))],
    ),
    Behaviour("never-answers", [(ReadRequest(), Hang())]),
    Behaviour(
        "redirect-302",
        [
            reply(
                answer(b"", b"Location: /elsewhere\r\n", status=b"302 Found"),
                ReadRequest(),
                Send(answer(FIRST)),
            ),
            reply(answer(FIRST)),
        ],
        fact=requests_received,
    ),
    Behaviour("no-content-204-with-body", [reply(answer(FIRST, status=b"204 No Content"))]),
    Behaviour("unavailable-503", [reply(answer(FIRST, status=b"503 Service Unavailable"))]),
    # Unsolicited bytes on a kept connection, then a second call: does it get them?
    # A whole extra answer in the same write as the first:
    Behaviour(
        "leftover-complete",
        two_calls(reply(answer(FIRST) + answer(LEFTOVER))),
        calls=2,
    ),
    # Only an extra head (its body never sent):
    Behaviour(
        "leftover-head-only",
        two_calls(reply(answer(FIRST) + answer(LEFTOVER)[: -len(LEFTOVER)])),
        calls=2,
    ),
    # An extra head; its body sent once the second request has come:
    Behaviour(
        "leftover-head-early",
        [
            (
                *reply(answer(FIRST) + answer(LEFTOVER)[: -len(LEFTOVER)]),
                ReadRequest(),
                Send(LEFTOVER),
            ),
            reply(answer(SECOND)),
        ],
        calls=2,
    ),
    # Bytes that start no answer, in the same write as the first:
    Behaviour(
        "leftover-garbage",
        two_calls(reply(answer(FIRST) + b"garbage")),
        calls=2,
        fact=requests_received,
    ),
    # A whole extra answer 50 ms later, while the connection is idle in the pool:
    Behaviour(
        "leftover-late",
        two_calls(reply(answer(FIRST), Sleep(0.05), Send(answer(LEFTOVER)))),
        calls=2,
        pause=0.3,
    ),
    Behaviour(
        "set-cookie",
        two_calls(reply(answer(FIRST, b"Set-Cookie: session=tenant-a; Path=/\r\n"))),
        calls=2,
        fact=cookie_sent,
    ),
    Behaviour("tls-honest", [reply(answer(FIRST))], tls=Tls.trusted),
    Behaviour("tls-untrusted", [reply(answer(FIRST))], tls=Tls.untrusted),
    Behaviour("tls-close-after-handshake", [(Close(),)], tls=Tls.trusted),
]

# Behaviour id -> which client is right, and why. The test fails when the set of
# differing behaviours is not exactly these keys.
KNOWN_DIFFERENCES: dict[str, str] = {
    "interim-flood-20": (
        "production is stricter by design: it takes at most eight interim answers before the "
        "answer (providers send one or two); h11 has no bound but the head's bytes. Both end "
        "the call without waiting: production as unreachable, httpx with the answer."
    ),
    "header-field-9kb": (
        "production is stricter by design, as aiohttp is: one field of over 8 KiB (aiohttp's "
        "8190 bytes) is refused; h11 bounds only the whole head (100 KiB)."
    ),
    "header-fields-1100": (
        "production is stricter by design: a head of more than 1,000 fields is refused, which "
        "bounds the Python work of one head; providers send 20 to 40, and h11 counts none."
    ),
    "chunks-1byte-4mb": (
        "production is right: five bytes of framing for each byte of body reach its bound on "
        "framing (twice a head plus at most the body cap) within a tenth of a second; httpx's "
        "pure-Python chunk parsing is so slow (and stalls the loop ~0.2 s at a time) that only "
        "the deadline stopped it (on a machine about 3x faster httpx would reach the cap)."
    ),
    "not-http-then-hang": (
        "production is right: it refuses an SSH banner at its first line; h11 waits for the "
        "end of a head that never comes, so only the deadline ended httpx's call."
    ),
    "content-length-and-chunked": (
        "production is right (stricter): RFC 9112 §6.3 says a message with both ought to be "
        "handled as an error (a sign of smuggling); httpx let Transfer-Encoding win, which the "
        "RFC also allows."
    ),
    "leftover-complete": (
        "production is right: it closes a connection with bytes past its answer, so the second "
        "call gets its own answer on a new one; h11 kept the unsolicited answer buffered and "
        "httpx gave it to the next request as its answer."
    ),
    "leftover-head-only": (
        "production is right: the connection with an unsolicited head pending is closed; httpx "
        "reused it and gave the second call that head with the real answer's first bytes as "
        "its body."
    ),
    "leftover-head-early": (
        "production is right: the connection with an unsolicited head pending is closed; httpx "
        "reused it and gave the second call a body the provider sent after another request's "
        "head (with pools per origin, possibly another tenant's)."
    ),
    "leftover-garbage": (
        "production is right: bytes past the answer close the connection, and the second call "
        "goes on a new one; httpx reused the connection and failed the second call on them."
    ),
}

# Where the two clients agree and both are wrong: noted in the report. A fix to one client
# changes its outcome (and fails the test until KNOWN_DIFFERENCES says which is right).
BOTH_WRONG: dict[str, str] = {}


# Running a behaviour.


class Witness:
    """The transport under test, unchanged, keeping every reply it returns
    (`ProviderHttp.get` keeps only the decoded body): shows a 1xx taken as the answer,
    or headers that are not the answer's own."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.replies: list[Reply] = []

    @property
    def statuses(self) -> list[int]:
        return [reply.status for reply in self.replies]

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        max_bytes: int,
        *,
        pool: str | None = None,
    ) -> Reply:
        reply = await self.inner.send(method, url, headers, body, max_bytes, pool=pool)
        self.replies.append(reply)
        return reply

    async def close(self) -> None:
        await self.inner.close()


class LagMeter:
    """The event loop's worst lateness while it runs: a task sleeping `TICK` seconds
    over and over, noting how late it wakes (a loop stalled in a callback wakes it late)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.perf_counter() - started - TICK)

    async def __aenter__(self) -> LagMeter:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(2 * TICK)  # a stall that ended with the call is seen too
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass(frozen=True)
class Call:
    compared: str
    shown: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def succeeded(value: object, reply: Reply) -> Call:
    """The status, the decoded body and the headers, compared as digests; shown, the body
    when short, and any header whose values were joined (no answer here repeats a name,
    so a joined one holds another answer's header)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    headers = sorted(reply.headers.items())
    text = canonical if len(canonical) <= 24 else f"{len(canonical)} B #{_digest(canonical)}"
    joined = "".join(f" [{name}: {value}]" for name, value in headers if ", " in value)
    return Call(
        f"ok {reply.status} #{_digest(canonical)} headers #{_digest(repr(headers))}",
        f"ok {reply.status} {text}{joined}",
    )


def failed(error: ProviderError, status: int | None) -> Call:
    """The error as a category (compared) and with its words (shown)."""
    if isinstance(error, ProviderTimedOut):
        return Call("timed_out", "timed_out")
    if isinstance(error, ProviderUnreachable):
        cause = error.__context__
        named = f" [{cause.httpx_name}]" if isinstance(cause, KeptError) else ""
        return Call("unreachable", f"unreachable: {error.reason}{named}")
    if isinstance(error, InvalidResponse):
        if error.detail.startswith("response larger than"):
            return Call("too_large", "too_large")
        if error.detail.startswith("response compressed"):
            return Call("compressed", "compressed")
        detail = error.detail.removeprefix("unexpected response: ")[:40]
        return Call(f"invalid_response (HTTP {status})", f"invalid (HTTP {status}): {detail}")
    return Call(f"{error.kind} {error.status}", f"{error.kind} HTTP {error.status}")


@dataclass(frozen=True)
class Run:
    calls: list[Call]
    fact: str | None
    statuses: list[int]
    lag: float
    seconds: float
    sent: int
    requests: list[bytes] = field(repr=False)

    @property
    def compared(self) -> str:
        parts = [call.compared for call in self.calls]
        return " | ".join(parts + ([self.fact] if self.fact else []))

    @property
    def shown(self) -> str:
        parts = [call.shown for call in self.calls]
        return "; ".join(parts + ([self.fact] if self.fact else []))


async def run(behaviour: Behaviour, make: Callable[..., Transport]) -> Run:
    tls = behaviour.tls() if behaviour.tls else None
    with RawProvider(*behaviour.scripts, tls=tls) as provider:
        transport = Witness(make(provider.client_context))
        http = ProviderHttp(
            transport, provider="raw", base_url=provider.url, headers={}, limits=LIMITS
        )
        calls: list[Call] = []
        started = time.perf_counter()
        async with LagMeter() as lag:
            for number in range(behaviour.calls):
                if number and behaviour.pause:
                    await asyncio.sleep(behaviour.pause)
                seen = len(transport.replies)
                try:
                    value = await http.get("/x", dict)
                except ProviderError as error:
                    status = transport.statuses[seen] if len(transport.replies) > seen else None
                    calls.append(failed(error, status))
                else:
                    calls.append(succeeded(value, transport.replies[seen]))
        seconds = time.perf_counter() - started
        await transport.close()
        await asyncio.to_thread(provider.wait_done, SETTLE_SECONDS)
        return Run(
            calls=calls,
            fact=behaviour.fact(provider) if behaviour.fact else None,
            statuses=list(transport.statuses),
            lag=lag.worst,
            seconds=seconds,
            sent=provider.sent,
            requests=provider.requests,
        )


TRANSPORTS: dict[str, Callable[..., Transport]] = {
    "production": lambda tls: Http1Transport(tls=tls),
    "kept": lambda tls: KeptTransport(tls),
}


@dataclass(frozen=True)
class Row:
    behaviour: Behaviour
    production: Run
    kept: Run

    @property
    def same(self) -> bool:
        return self.production.compared == self.kept.compared


async def run_all() -> list[Row]:
    rows = []
    for behaviour in BEHAVIOURS:
        runs = {name: await run(behaviour, make) for name, make in TRANSPORTS.items()}
        rows.append(Row(behaviour, runs["production"], runs["kept"]))
    return rows


def table(rows: list[Row]) -> str:
    def size(count: int) -> str:
        return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count} B"

    lines = [
        "| behaviour | production | kept (httpx) | same? | lag production | lag kept "
        "| sent production | sent kept | s production | s kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p, k = row.production, row.kept
        lines.append(
            f"| {row.behaviour.id} | {p.shown} | {k.shown} | {'yes' if row.same else '**NO**'} "
            f"| {p.lag * 1000:.0f} ms | {k.lag * 1000:.0f} ms | {size(p.sent)} | {size(k.sent)} "
            f"| {p.seconds:.2f} | {k.seconds:.2f} |"
        )
    return "\n".join(lines)


def report(shown: str) -> str:
    def notes(title: str, judged: dict[str, str]) -> str:
        listed = "".join(f"- **{key}**: {why}\n" for key, why in judged.items())
        return f"\n## {title}\n\n" + (listed or "None.\n")

    return (
        "# The production transport against the kept client (httpx)\n\n"
        f"{len(BEHAVIOURS)} hostile behaviours, each through `ProviderHttp` with {LIMITS}. "
        "Compared: the category, the status and the body's digest (and the fact after `;` "
        "where there is one); shown only: reasons, httpx's class, loop lag, bytes sent, "
        "seconds.\n\n"
        + shown
        + "\n"
        + notes("Known differences", KNOWN_DIFFERENCES)
        + notes("Wrong in both clients", BOTH_WRONG)
    )


@pytest.fixture(scope="module")
def rows() -> Iterator[list[Row]]:
    """Every behaviour through both clients, once for the module, on a loop of its own."""
    yield asyncio.run(run_all())


def test_the_clients_differ_only_where_known(rows: list[Row]) -> None:
    shown = table(rows)
    print("\n" + shown)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report(shown))
    assert len(rows) >= 24
    differing = {row.behaviour.id for row in rows if not row.same}
    assert differing == set(KNOWN_DIFFERENCES), (
        f"new differences: {sorted(differing - set(KNOWN_DIFFERENCES))}; "
        f"gone: {sorted(set(KNOWN_DIFFERENCES) - differing)}"
    )


def _row(rows: list[Row], behaviour: str) -> Row:
    return next(row for row in rows if row.behaviour.id == behaviour)


def test_the_kept_client_never_takes_an_interim_answer_as_final(rows: list[Row]) -> None:
    assert all(status >= 200 for row in rows for status in row.kept.statuses)
    for behaviour in ("continue-100", "early-hints-103"):
        assert _row(rows, behaviour).kept.compared.startswith("ok 200 ")


def test_the_kept_client_never_follows_a_redirect(rows: list[Row]) -> None:
    kept = _row(rows, "redirect-302").kept
    assert kept.statuses == [302]
    assert len(kept.requests) == 1


def test_the_kept_client_never_sends_a_cookie(rows: list[Row]) -> None:
    kept = _row(rows, "set-cookie").kept
    assert len(kept.requests) == 2
    assert not any(b"\ncookie:" in request.lower() for request in kept.requests)


def test_the_production_client_skips_interim_answers_and_never_takes_one_as_final(
    rows: list[Row],
) -> None:
    assert all(status >= 200 for row in rows for status in row.production.statuses)
    for behaviour in ("continue-100", "early-hints-103", "continue-100-then-reuse"):
        assert _row(rows, behaviour).production.compared.startswith("ok 200 ")


def test_the_production_client_gives_no_call_the_bytes_left_past_another_answer(
    rows: list[Row],
) -> None:
    for behaviour in ("leftover-complete", "leftover-head-only", "leftover-head-early"):
        production = _row(rows, behaviour).production
        assert [call.shown for call in production.calls] == [
            'ok 200 {"call":1}',
            'ok 200 {"call":2}',
        ], behaviour
