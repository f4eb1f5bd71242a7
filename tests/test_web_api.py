"""``matgrad serve`` without a browser: the JSON API, the page's files, the limits,
the time limit, fuzzed formulas and 50 concurrent clients (``docs/web.md``).

Expected values come from closed forms derived by hand and evaluated with NumPy at
the random inputs the server reports (``jacobian.at``), never from the server's
own output.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from matgrad.web import api
from matgrad.web.server import MAX_BODY, Server, exposure_warning, is_loopback, make_server

# ---------------------------------------------------------------------------------------
# A server in a thread, and a client
# ---------------------------------------------------------------------------------------


@contextmanager
def running_server(**options: Any) -> Iterator[Server]:
    """A server on a free loopback port, serving in a thread until the block ends."""
    server = make_server("127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class Client:
    """One keep-alive connection to a server."""

    def __init__(self, url: str, timeout: float = 120) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); reconnects once when the server closed the connection."""
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, call: str, body: object) -> tuple[int, dict[str, Any]]:
        """POST ``body`` as JSON to ``/api/<call>``: (status, decoded answer)."""
        status, _, data = self.request(
            "POST", f"/api/{call}", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        return status, json.loads(data)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server(workers=2, time_limit=60.0) as s:
        yield s


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    c = Client(server.url)
    yield c
    c.close()


def at(answer: dict[str, Any], name: str) -> np.ndarray:
    return np.array(answer["jacobian"]["at"][name], dtype=float)


def flattened(answer: dict[str, Any]) -> np.ndarray:
    return np.array(answer["jacobian"]["values"], dtype=float)


def vec(M: np.ndarray) -> np.ndarray:
    return M.reshape(-1, order="F")


# ---------------------------------------------------------------------------------------
# The page and its files
# ---------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def test_the_page_and_its_files_come_from_this_server(client: Client, server: Server) -> None:
    status, headers, html = client.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    page = html.decode()
    refs = _Refs()
    refs.feed(page)
    assert "/static/katex/katex.min.js" in refs.refs and "/static/app.js" in refs.refs
    for ref in refs.refs:  # same origin only: a path, or a fragment
        assert ref.startswith(("/", "#")) and not ref.startswith("//"), ref
        if ref.startswith("/static/"):
            status, _, body = client.request("GET", ref)
            assert status == 200 and body, ref
    for name in ("index.html", "app.js", "style.css"):
        text = server.files[name].decode()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
    css = server.files["katex/katex.min.css"].decode()
    fonts = re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)
    assert len(fonts) == 20
    for font in fonts:  # every font KaTeX asks for first is vendored
        status, headers, _ = client.request("GET", "/static/katex/" + font)
        assert status == 200 and headers["content-type"] == "font/woff2", font
    assert "MIT" in server.files["katex/LICENSE"].decode()


def test_api_description(client: Client) -> None:
    status, _, body = client.request("GET", "/api")
    data = json.loads(body)
    assert status == 200 and set(data["calls"]) == {"parse", "derive", "check"}
    assert data["limits"]["body_bytes"] == MAX_BODY


# ---------------------------------------------------------------------------------------
# parse: live feedback
# ---------------------------------------------------------------------------------------


def test_parse_infers_the_shapes_and_takes_the_edits(client: Client) -> None:
    status, data = client.post("parse", {"formula": "tr(X'*A*X)", "shapes": {"X": "3x2"}})
    assert status == 200
    assert data["shape"] == [] and "X" in data["parsed"] and r"\operatorname" in data["latex"]
    # X'AX is 2x2 when X is 3x2: A must be 3x3
    assert [(s["name"], s["shape"], s["kind"]) for s in data["symbols"]] == [
        ("X", [3, 2], "matrix"), ("A", [3, 3], "matrix"),
    ]
    status, data = client.post("parse", {
        "formula": "logdet(S) + a'*inv(S)*b", "spd": ["S"], "size": 5, "shapes": {"Y": [2]},
    })
    assert status == 200 and data["ignored"] == ["Y"]  # a stale edit of a removed symbol
    S = next(s for s in data["symbols"] if s["name"] == "S")
    assert S == {"name": "S", "shape": [5, 5], "kind": "matrix", "symmetric": True, "spd": True}
    status, data = client.post("parse", {"formula": "x'*A*x", "symmetric": "A"})
    assert next(s for s in data["symbols"] if s["name"] == "A")["symmetric"] is True


def test_parse_error_has_the_caret_position(client: Client) -> None:
    status, data = client.post("parse", {"formula": "tr(X'*A*"})
    assert status == 422
    err = data["error"]
    assert err["kind"] == "ParseError" and err["position"] == 8
    lines = err["message"].splitlines()
    shown = next(i for i, line in enumerate(lines) if line.strip() == "tr(X'*A*")
    text_column = lines[shown].index("tr(")
    assert lines[shown + 1].index("^") - text_column == 8  # under the end of the text
    status, data = client.post("parse", {"formula": "tr(X)", "shapes": {"X": "2x3"}})
    assert status == 422 and data["error"]["kind"] == "ShapeError"
    assert data["error"]["position"] is not None and "^" in data["error"]["message"]


# ---------------------------------------------------------------------------------------
# derive: the derivative, its shape, the check, the heatmap
# ---------------------------------------------------------------------------------------


def test_derive_gradient_of_a_trace(client: Client) -> None:
    status, data = client.post("derive", {"formula": "tr(X'*A*X)", "wrt": "X", "seed": 3})
    assert status == 200
    assert data["shape"] == [3, 3] and data["shape_text"] == "(3, 3) = () + (3, 3)"
    assert data["out_shape"] == [] and data["in_shape"] == [3, 3]
    d = data["derivative"]
    assert {"text", "latex", "numpy", "einsum"} <= set(d) and "def derivative" in d["numpy"]
    assert "X" in d["text"] and "A" in d["latex"]
    assert data["check"]["status"] == "PASS" and data["check"]["passed"] is True
    assert data["check"]["error"] < data["check"]["rtol"] == 1e-6
    A, X = at(data, "A"), at(data, "X")
    j = data["jacobian"]
    assert (j["rows"], j["cols"], j["order"]) == (1, 9, "F")
    # d tr(XᵀAX)/dX = (A + Aᵀ) X, flattened column-major into one row
    assert np.allclose(flattened(data), vec((A + A.T) @ X)[None, :], rtol=1e-10)


def test_derive_hessian_has_the_kronecker_structure(client: Client) -> None:
    status, data = client.post("derive", {"formula": "tr(X'*A*X)", "wrt": "X", "order": 2})
    assert status == 200 and data["shape"] == [3, 3, 3, 3]
    assert data["shape_text"] == "(3, 3, 3, 3) = () + (3, 3) + (3, 3)"
    assert data["check"]["status"] == "PASS"
    A = at(data, "A")
    # d vec((A + Aᵀ)X) / d vec(X) = I ⊗ (A + Aᵀ) (vec column-major)
    assert np.allclose(flattened(data), np.kron(np.eye(3), A + A.T), rtol=1e-10)


def test_derive_jacobian_shapes_sizes_and_spd(client: Client) -> None:
    status, data = client.post("derive", {
        "formula": "W*x + b", "wrt": "W", "shapes": {"W": "2x4"},
    })
    assert status == 200 and data["shape"] == [2, 2, 4]
    x = at(data, "x")
    # d(Wx)/dW: vec(Wx) = (xᵀ ⊗ I₂) vec(W)
    assert np.allclose(flattened(data), np.kron(x[None, :], np.eye(2)), rtol=1e-10)
    status, data = client.post("derive", {
        "formula": "logdet(S)", "wrt": "S", "spd": ["S"], "size": 4,
    })
    assert status == 200 and data["check"]["status"] == "PASS"
    S = at(data, "S")
    assert np.all(np.linalg.eigvalsh(S) > 0)  # drawn SPD
    assert np.allclose(flattened(data), vec(np.linalg.inv(S))[None, :], rtol=1e-8)
    status, data = client.post("derive", {"formula": "x'*A*x", "wrt": "x", "order": 2})
    A = at(data, "A")
    assert np.allclose(flattened(data), A + A.T, rtol=1e-10)


def test_derive_skips_what_is_too_big_to_check_or_draw(client: Client) -> None:
    status, data = client.post("derive", {
        "formula": "sum(x)", "wrt": "x", "shapes": {"x": [api.MAX_CHECKED + 1]},
    })
    assert status == 200 and data["check"]["status"] == "SKIPPED"
    assert data["check"]["problem"].startswith("skipped")
    status, data = client.post("derive", {"formula": "A*x", "wrt": "A", "size": 40})
    assert status == 200 and data["jacobian"]["values"] is None  # 40 x 1600 entries
    assert "too large to draw" in data["jacobian"]["note"]


def test_derive_options_that_do_not_fit(client: Client) -> None:
    status, data = client.post("derive", {"formula": "x'*x", "wrt": "y"})
    assert status == 422 and data["error"]["kind"] == "UsageError"
    assert "wrt: 'y' does not occur" in data["error"]["message"]
    status, data = client.post(
        "derive", {"formula": "x'*A*x", "wrt": "x", "shapes": {"x": 3}, "spd": ["x"]}
    )
    assert status == 422 and "x is declared symmetric but has shape (3,)" in data["error"][
        "message"]
    status, data = client.post("derive", {  # 10^12 entries: the compiler's size guard
        "formula": "sum(kron(A, B)) * s", "wrt": "s", "size": 1000, "shapes": {"s": "scalar"},
    })
    assert status == 422 and "max_elements" in data["error"]["message"]


# ---------------------------------------------------------------------------------------
# check my derivative
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "formula, wrt, claim, correct, mistake",
    [
        ("tr(A*X)", "X", "A", False, "transpose"),
        ("tr(A*X)", "X", "A'", True, None),
        ("x'*A*x", "x", "2*A*x", False, "symmetric"),
        ("x'*A*x", "x", "-(A + A')*x", False, "sign"),
        ("a'*X*b", "X", "a*b'", True, None),
    ],
)
def test_check_names_the_mistake(
    client: Client, formula: str, wrt: str, claim: str, correct: bool, mistake: str | None
) -> None:
    status, data = client.post("check", {"formula": formula, "wrt": wrt, "claim": claim})
    assert status == 200
    assert data["correct"] is correct and data["mistake"] == mistake
    assert data["verdict"] == ("CORRECT" if correct else "INCORRECT") and data["diagnosis"]


def test_check_with_a_broken_claim_points_into_the_claim(client: Client) -> None:
    status, data = client.post("check", {"formula": "tr(A*X)", "wrt": "X", "claim": "A'*"})
    assert status == 422 and data["error"]["kind"] == "ParseError"
    assert data["error"]["position"] == 3


# ---------------------------------------------------------------------------------------
# Bad requests are 4xx with a message
# ---------------------------------------------------------------------------------------


def _raw(client: Client, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    status, _, data = client.request(method, path, body, headers)
    return status, json.loads(data)


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"formula": "x", "wrt": "x", "colour": 1}', 400, "unknown field 'colour'"),
        (b'{"wrt": "x"}', 400, "missing field 'formula'"),
        (b'{"formula": 3, "wrt": "x"}', 400, "formula must be a string"),
        (b'{"formula": "x\'*x", "wrt": "x", "order": 9}', 400, "order must be between 1 and 4"),
        (b'{"formula": "x\'*x", "wrt": "x", "order": true}', 400, "order must be an integer"),
        (b'{"formula": "x\'*x", "wrt": "x", "shapes": {"x": "3y"}}', 400, "shapes['x']"),
        (b'{"formula": "x\'*x", "wrt": "x", "shapes": {"x": [0]}}', 400, "between 1 and"),
        (b'{"formula": "x\'*x", "wrt": "x", "shapes": [1]}', 400, "shapes must be an object"),
        (b'{"formula": "x\'*x", "wrt": ""}', 400, "non-empty"),
        (b'{"formula": "x\'*x", "wrt": "x", "seed": -1}', 400, "seed must be between"),
        (json.dumps({"formula": "x" * (api.MAX_FORMULA + 1), "wrt": "x"}).encode(), 413,
         "too long"),
        (b"[" * 100_000, 413, "at most"),
        (b"[" * 60_000, 400, "not JSON"),  # too deep for the decoder
    ],
)
def test_bad_bodies_are_4xx_with_a_message(
    client: Client, body: bytes, status: int, words: str
) -> None:
    got, data = _raw(client, "POST", "/api/derive", body, {"Content-Type": "application/json"})
    assert got == status and words in data["error"]["message"], data


def test_bad_requests_are_4xx(client: Client) -> None:
    assert _raw(client, "POST", "/api/integrate", b"{}")[0] == 404
    assert _raw(client, "GET", "/api/derive")[0] == 405
    assert _raw(client, "PUT", "/api/derive", b"{}")[0] == 405
    assert _raw(client, "GET", "/nowhere")[0] == 404
    assert _raw(client, "GET", "/static/../api.py")[0] == 404
    assert _raw(client, "GET", "/static/%2e%2e/api.py")[0] == 404
    assert _raw(client, "POST", "/somewhere", b"{}")[0] == 404
    deep = json.dumps({"formula": "(" * 150 + "x" + ")" * 150, "wrt": "x"}).encode()
    status, data = _raw(client, "POST", "/api/derive", deep)
    assert status == 200  # nesting within the parser's depth limit
    deeper = json.dumps({"formula": "(" * 900 + "x" + ")" * 900, "wrt": "x"}).encode()
    status, data = _raw(client, "POST", "/api/derive", deeper)
    assert status == 422 and data["error"]["kind"] == "ParseError"


def test_requests_without_a_length_or_for_another_host_are_refused(server: Server) -> None:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=30)
    conn.putrequest("POST", "/api/parse")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"2\r\n{}\r\n0\r\n\r\n")
    response = conn.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())[
        "error"]["message"]
    conn.close()
    conn = http.client.HTTPConnection(str(host), port, timeout=30)
    conn.request("GET", "/", headers={"Host": "attacker.example:80"})  # DNS rebinding
    assert conn.getresponse().status == 403
    conn.close()


def test_loopback_by_default_and_a_warning_otherwise() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert exposure_warning("127.0.0.1") == ""
    assert "reachable from other machines" in exposure_warning("0.0.0.0")


# ---------------------------------------------------------------------------------------
# The time limit: too large, and the server stays responsive
# ---------------------------------------------------------------------------------------

SLOW = "sum(tanh(tanh(tanh(A*tanh(B*tanh(C*x))))))"  # order 4: about 5 s on this machine


def test_a_blow_up_is_too_large_and_the_server_stays_responsive() -> None:
    with running_server(workers=2, time_limit=1.0) as server:
        slow: dict[str, Any] = {}

        def send_slow() -> None:
            c = Client(server.url)
            start = time.perf_counter()
            slow["answer"] = c.post("derive", {"formula": SLOW, "wrt": "x", "order": 4})
            slow["seconds"] = time.perf_counter() - start
            c.close()

        thread = threading.Thread(target=send_slow)
        thread.start()
        time.sleep(0.2)  # the slow one holds a worker now
        fast = Client(server.url)
        start = time.perf_counter()
        status, data = fast.post("derive", {"formula": "x'*A*x", "wrt": "x", "seed": 7})
        fast_seconds = time.perf_counter() - start
        assert status == 200 and data["check"]["status"] == "PASS"
        assert fast.post("parse", {"formula": "tr(X)"})[0] == 200
        thread.join(30)
        status, data = slow["answer"]
        assert status == 422 and data["error"]["kind"] == "TooLarge"
        assert "too large" in data["error"]["message"] and data["error"]["limit_seconds"] == 1.0
        assert 1.0 <= slow["seconds"] < 10 and fast_seconds < 1.0
        assert server.pool.killed == 1
        for seed in range(4):  # the pool has its two workers again
            assert fast.post("derive", {"formula": "tr(A*X)", "wrt": "X", "seed": seed})[0] == 200
        fast.close()


# ---------------------------------------------------------------------------------------
# 1000 random and mutated formulas never give a 5xx
# ---------------------------------------------------------------------------------------


def _mutate(text: str, rng: random.Random) -> str:
    from test_parse import TOKENS

    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(chars))
        kind = rng.randint(0, 3)
        if kind == 0 and chars:
            del chars[min(i, len(chars) - 1)]
        elif kind == 1:
            chars[i:i] = list(rng.choice(TOKENS))
        elif kind == 2 and len(chars) > 1:
            j = rng.randint(0, len(chars) - 1)
            k = min(i, len(chars) - 1)
            chars[j], chars[k] = chars[k], chars[j]
        else:
            chars[i:i] = chars[max(0, i - 3):i]
    return "".join(chars)


def _fuzz_texts() -> st.SearchStrategy[str]:
    from test_parse import TOKENS, formulas

    valid = st.sampled_from("svm").flatmap(lambda k: formulas(k)).map(lambda case: case[0])
    mutated = st.tuples(valid, st.integers(0, 2**32)).map(
        lambda t: _mutate(t[0], random.Random(t[1]))
    )
    soup = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
    return st.one_of(valid, mutated, mutated, soup, st.text(max_size=60))


FUZZ_COUNT = 1000
"""Formulas sent to ``parse``.  Of those that parse and have a symbol, every other
one is then sent to ``derive`` (by two clients, so that both workers are busy):
each derivation runs the numerical check, and all of them would take the suite
past its time budget on two shared cores.  The fuzz profile
(``--hypothesis-profile=fuzz``) derives every one."""
DERIVE_EVERY = 1 if settings.default.max_examples > 100 else 2


def test_random_and_mutated_formulas_never_give_a_5xx(server: Server) -> None:
    client = Client(server.url)
    seen: list[tuple[str, int]] = []
    derives: list[tuple[str, str, int]] = []
    parsed_count = [0]

    @settings(max_examples=FUZZ_COUNT, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(_fuzz_texts(), st.integers(1, 2), st.integers(0, 1))
    def one(text: str, order: int, pick: int) -> None:
        status, data = client.post("parse", {"formula": text})
        assert status in (200, 422), (text, status, data)
        if status == 422:
            assert data["error"]["message"]
        elif data["symbols"]:
            parsed_count[0] += 1
            if parsed_count[0] % DERIVE_EVERY == 0:
                wrt = data["symbols"][pick % len(data["symbols"])]["name"]
                derives.append((text, wrt, order))
        seen.append((text, status))

    one()
    assert len(seen) == FUZZ_COUNT
    client.close()
    results: list[tuple[tuple[str, str, int], int, dict[str, Any]]] = []

    def derive(mine: list[tuple[str, str, int]]) -> None:  # two clients: both workers busy
        c = Client(server.url)
        for text, wrt, order in mine:
            status, body = c.post("derive", {"formula": text, "wrt": wrt, "order": order})
            results.append(((text, wrt, order), status, body))
        c.close()

    threads = [threading.Thread(target=derive, args=(derives[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert len(results) == len(derives)
    for case, status, body in results:
        assert status in (200, 422), (case, status, body)
        assert status == 200 or body["error"]["message"]
    parsed = sum(status == 200 for _, status in seen)
    derived = sum(status == 200 for _, status, _ in results)
    assert 100 < parsed < FUZZ_COUNT - 100 and derived > 100  # both kinds were exercised


# ---------------------------------------------------------------------------------------
# 50 concurrent clients, 20 requests each
# ---------------------------------------------------------------------------------------

LOAD_CASES = [  # formula, wrt, order, derivative shape (by hand)
    ("tr(X'*A*X)", "X", 1, [3, 3]),
    ("x'*A*x", "x", 2, [3, 3]),
    ("logdet(X) + a'*inv(X)*b", "X", 1, [3, 3]),
    ("sum(exp(W*x + b))", "W", 1, [3, 3]),
    ("tanh(A*x)", "x", 1, [3, 3]),
    ("norm2(A*x - b)", "x", 1, [3]),
    ("tr(X'*A*X)", "X", 2, [3, 3, 3, 3]),
    ("x'*A*x", "x", 1, [3]),
]


def test_fifty_concurrent_clients(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    clients, per_client = 50, 20
    requests = [
        [(LOAD_CASES[(c + r) % len(LOAD_CASES)], (c * per_client + r) % 25)
         for r in range(per_client)]
        for c in range(clients)
    ]
    reference: dict[tuple[str, str, int], str] = {}
    single = Client(server.url)
    for formula, wrt, order, shape in LOAD_CASES:
        status, data = single.post("derive", {"formula": formula, "wrt": wrt, "order": order})
        assert status == 200 and data["shape"] == shape
        reference[formula, wrt, order] = data["derivative"]["text"]
    single.close()
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def run(mine: list[tuple[tuple[str, str, int, list[int]], int]]) -> None:
        c = Client(server.url)
        barrier.wait()
        for (formula, wrt, order, shape), seed in mine:
            body = {"formula": formula, "wrt": wrt, "order": order, "seed": seed}
            start = time.perf_counter()
            status, data = c.post("derive", body)
            took = time.perf_counter() - start
            ok = (status == 200 and data["shape"] == shape
                  and data["check"]["status"] == "PASS"
                  and data["derivative"]["text"] == reference[formula, wrt, order])
            with lock:
                latencies.append(took)
                if not ok:
                    failures.append(f"{body}: {status} {str(data)[:200]}")
        c.close()

    distinct = len({(case[:3], seed) for mine in requests for case, seed in mine})
    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(mine,)) for mine in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    wall = time.perf_counter() - start
    assert not failures, failures[:3]
    assert len(latencies) == clients * per_client
    ms = np.array(latencies) * 1000
    with capsys.disabled():
        print(
            f"\nload: {clients} clients x {per_client} requests in {wall:.1f} s "
            f"({len(ms) / wall:.0f}/s); latency ms: p50 {np.percentile(ms, 50):.0f}, "
            f"p90 {np.percentile(ms, 90):.0f}, p99 {np.percentile(ms, 99):.0f}, "
            f"max {ms.max():.0f}; {distinct} distinct requests (the rest answered from the cache)"
        )


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def test_matgrad_serve_prints_the_url_and_serves_the_page() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "matgrad", "serve", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        client = Client(match.group(0))
        status, _, body = client.request("GET", "/")
        assert status == 200 and b"matgrad" in body
        status, data = client.post("derive", {"formula": "tr(A*X)", "wrt": "X"})
        assert status == 200 and data["check"]["status"] == "PASS"
        client.close()
    finally:
        proc.send_signal(__import__("signal").SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err, err
