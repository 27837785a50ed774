"""matcalc serve's JSON API (issue 18), through Starlette's test client:
/api/derive returns the --format json document, /api/check the verdict, bad
input is HTTP 400 {"error", "position"}, and a problem that runs past the
time limit costs only its own request.  (Skips where the web extra is
missing.)"""
import json
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install '.[web]')")
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is not installed")

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from matcalc.faces.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
CS224N = (ROOT / "tests" / "data" / "cs224n.mc").read_text()


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=2, timeout=60)) as c:
        yield c


def gradients_of(document: dict, **inputs) -> dict:
    """Run the document's numpy module (our own output, not user text)."""
    namespace: dict = {}
    exec(compile(document["numpy"], "<matcalc numpy module>", "exec"), namespace)
    return namespace["gradients"](**inputs)


def test_derive_returns_the_json_document_and_its_numpy_module_is_right(client):
    r = client.post("/api/derive", json={"f": "tr(A X B)", "wrt": "X", "where": ["A: (n, m)", "B: (k, n)"]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) >= {"input", "objective", "shapes", "assumptions", "intermediates", "gradients", "numpy", "check"}
    assert doc["shapes"]["X"] == ["m", "k"]
    assert doc["check"]["ok"] is True
    rng = np.random.default_rng(0)
    A, X, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 5)), rng.normal(size=(5, 2))
    g = gradients_of(doc, A=A, X=X, B=B)["X"]
    np.testing.assert_allclose(g, A.T @ B.T, rtol=1e-10)  # d tr(A X B) / dX = Aᵀ Bᵀ


def test_derive_a_program_with_the_cli_fields(client):
    # the CLI's `derive J -f cs224n.mc --wrt W,U`: f names the objective, program is the file
    r = client.post("/api/derive", json={"f": "J", "program": CS224N, "wrt": "W,U"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [i["name"] for i in doc["intermediates"]] == ["delta1", "delta2"]
    assert {g["wrt"]: g["expr"] for g in doc["gradients"]} == {"W": "x^T delta2", "U": "h^T delta1"}
    # the editor's form: the whole program in f gives the same document
    same = client.post("/api/derive", json={"f": CS224N, "wrt": ["W", "U"]}).json()
    assert same["gradients"] == doc["gradients"]
    # numbers: the gradient of W against central differences of a plain-numpy J
    rng = np.random.default_rng(1)
    D, H, C = 3, 4, 5
    x, W, b1 = rng.normal(size=(1, D)), rng.normal(size=(D, H)), rng.normal(size=(1, H))
    U, b2, y = rng.normal(size=(H, C)), rng.normal(size=(1, C)), np.eye(C)[[2]]

    def J(W):
        theta = np.maximum(x @ W + b1, 0) @ U + b2
        p = np.exp(theta - theta.max()) / np.exp(theta - theta.max()).sum()
        return -float(np.sum(y * np.log(p)))

    g = gradients_of(doc, x=x, W=W, b1=b1, U=U, b2=b2, y=y)["W"]
    fd = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[i] = 1e-6
        fd[i] = (J(W + e) - J(W - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_derive_a_hessian(client):
    r = client.post("/api/derive", json={"f": "x^T A x", "where": "x: (n, 1)", "wrt": "x", "order": "hessian"})
    assert r.status_code == 200, r.text
    hessians = r.json()["hessians"]
    assert hessians[0]["wrt"] == "x" and hessians[0]["symmetric"]
    assert r.json()["check"]["ok"] is True
    # an HVP: the direction takes the first free name (v is taken here)
    r = client.post("/api/derive", json={"f": "x: (n, 1)\nv: (n, 1)\nJ = sum(exp(A x)) + vᵀ x", "wrt": "x",
                                         "order": "hvp"})
    assert r.status_code == 200, r.text
    hvp = r.json()["hvp"][0]
    assert hvp["wrt2"] == "u" and hvp["shape"] == ["n", 1] and r.json()["check"]["ok"] is True


def test_check_marks_a_transposed_answer_as_a_layout_mistake(client):
    r = client.post("/api/check", json={"f": "tr(A X B)", "wrt": "X", "answer": "B A"})
    assert r.status_code == 200, r.text
    verdict = r.json()
    assert verdict["correct"] is False and verdict["kind"] == "transpose"
    assert "layout" in verdict["diagnosis"]
    right = client.post("/api/check", json={"f": "tr(A X B)", "wrt": "X", "answer": r"A^\top B^\top"}).json()
    assert right["correct"] is True and right["kind"] == "correct"


@pytest.mark.parametrize("body, field, line, column", [
    ({"f": "x W +", "wrt": "W"}, "f", 1, 5),
    ({"f": "x: (1, D)\nz = x W\nsum(z", "wrt": "W"}, "f", 3, 4),
    ({"f": "sum(relu(z))", "where": ["x: (1, D)", "z = x W +"], "wrt": "W"}, "where", 2, 9),
])
def test_bad_input_is_400_with_its_position(client, body, field, line, column):
    r = client.post("/api/derive", json=body)
    assert r.status_code == 400
    data = r.json()
    assert set(data) == {"error", "position"}
    assert data["error"].startswith("ParseError") and "^" in data["error"]
    assert data["position"] == {"field": field, "line": line, "column": column}


@pytest.mark.parametrize("body", [
    {"f": "tr(A X B)", "wrt": "Q"},                     # not a variable of the problem
    {"f": "tr(A X B)"},                                 # no wrt
    {"f": "x W", "wrt": "W", "where": "x: (1, D)", "order": "hessian"},  # Hessian of a non-scalar
    {"f": 3, "wrt": "X"},                               # not a string
    {"f": "tr(A X B)", "wrt": "X", "order": "third"},
    {"f": "x" * 30_000, "wrt": "x"},                    # too long
    {"f": "(" * 5_000 + "x" + ")" * 5_000, "wrt": "x"},  # nested too deeply
])
def test_bad_requests_are_400(client, body):
    r = client.post("/api/derive", json=body)
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error", "position"} and r.json()["error"]


def test_bodies_that_are_not_a_json_object(client):
    assert client.post("/api/derive", content=b"tr(A X B)").status_code == 400
    assert client.post("/api/derive", json=["tr(A X B)"]).status_code == 400
    assert client.post("/api/derive", content=b"{" + b" " * 200_000 + b"}").status_code == 413
    assert client.post("/api/check", json={"f": "tr(A X B)", "wrt": "X"}).status_code == 400  # no answer


def test_nothing_typed_is_evaluated_as_code(client):
    r = client.post("/api/derive", json={"f": "__import__('os').system('touch /tmp/matcalc-pwned')", "wrt": "x"})
    assert r.status_code == 400
    assert not Path("/tmp/matcalc-pwned").exists()


def test_the_page_and_katex_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<textarea" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/katex/katex.min.js").status_code == 200
    css = client.get("/static/katex/katex.min.css").text
    font = css.split("url(")[1].split(")")[0]  # the first font the style sheet asks for
    assert client.get(f"/static/katex/{font}").status_code == 200


def test_a_request_past_the_time_limit_fails_alone():
    """One worker runs a problem far past the limit (a check whose every
    evaluation multiplies two 2500×2500 matrices; the check's work is bounded
    in directions, not in the cost of one evaluation); the other answers a
    second request meanwhile; the slow worker is replaced and the server
    answers after it."""
    with TestClient(create_app(workers=2, timeout=8, memory_mb=None)) as c:
        # both workers warm (the queue hands them out in turn)
        assert all(c.post("/api/derive", json={"f": "tr(A X)", "wrt": "X"}).status_code == 200 for _ in range(2))
        slow = {}
        thread = threading.Thread(target=lambda: slow.update(r=c.post("/api/derive", json={
            "f": "sum(exp(X X))", "where": "X: (2500, 2500)", "wrt": "X"})))
        thread.start()
        quick = c.post("/api/derive", json={"f": CS224N, "wrt": "W"})
        thread.join()
        assert quick.status_code == 200 and quick.json()["check"]["ok"] is True
        assert slow["r"].status_code == 400
        assert "time limit" in slow["r"].json()["error"]
        after = c.post("/api/check", json={"f": "tr(A X B)", "wrt": "X", "answer": "A^T B^T"})
        assert after.status_code == 200 and after.json()["correct"] is True


def test_an_inconclusive_check_is_valid_json_and_says_so(client):
    # no valid point (x xᵀ is singular): no error to report, so null, never NaN (which no JSON reader takes)
    r = client.post("/api/derive", json={"f": "tr(inv(x x^T) A)", "wrt": "x", "where": ["x: (n, 1)"]})
    assert r.status_code == 200, r.text
    check = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))["check"]
    assert check["status"] == "inconclusive" and check["ok"] is False and check["max_rel_error"] is None


@pytest.mark.parametrize("answer", ["x / 0", "log(0 x)", "x / (x - x)"])
def test_an_answer_that_is_not_finite_gets_a_verdict_in_valid_json(client, answer):
    r = client.post("/api/check", json={"f": "x^T x", "wrt": "x", "where": ["x: (n, 1)"], "answer": answer})
    assert r.status_code == 200, r.text  # was a 500: NaN and inf are not JSON
    verdict = json.loads(r.text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert verdict["correct"] is False and verdict["kind"] == "counterexample"
    assert verdict["counterexample"]["given"] in ("inf", "-inf", "nan")
