"""The OpenAI-compatible chat adapter against a small local HTTP server that follows the protocol."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kechuang.core.auth import Role
from kechuang.science import service
from kechuang.science.models import ScienceModel
from tests.conftest import principal

USER = principal(Role.RESEARCHER, user_id=41)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/chat/completions" and body["temperature"] == 0
        prompt = body["messages"][-1]["content"]
        prefix = re.search(r"one (\w+?)(metre|gram|second|pascal|joule|watt|volt|ampere)\?", prompt).group(1)
        exp = {"kilo": 3, "mega": 6, "giga": 9, "milli": -3, "micro": -6, "nano": -9, "centi": -2, "hecto": 2}[prefix]
        want = f"1e{exp}"
        letter = next(m.group(1) for m in re.finditer(r"^([A-D])\) (\S+)$", prompt, re.M) if m.group(2) == want)
        # a model that knows its prefixes, but says nothing about watts and answers "(X)" style for volts
        content = "" if "watt" in prompt else (f"({letter})" if "volt" in prompt else letter)
        out = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                       "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_chat_model_scored_on_multiple_choice_and_leaderboard(session, chat_server):
    session.add(ScienceModel(slug="local-chat", version="0.1.0", name="local chat", domain="general",
                             task_kind="chat", adapter="openai", adapter_config={"base_url": chat_server, "model": "m"}))
    session.flush()
    r = service.run(session, USER, "si-prefix-mc", "local-chat")
    assert r.status == "ok" and r.n_items == 64
    assert r.n_nonfinite == 8  # the eight empty answers (watts) are counted, not dropped
    assert r.scores["mc_accuracy"] == 1.0  # scored on the 56 answered items
    assert r.predictions["kilo-volt"].startswith("(") and r.predictions["kilo-watt"] is None
    again = service.run(session, USER, "si-prefix-mc", "local-chat")
    assert again.scores == r.scores and again.predictions_hash == r.predictions_hash
    service.run(session, USER, "si-prefix-mc", "baseline-always-a")
    rows = service.leaderboard(session, USER, "si-prefix-mc")["rows"]
    assert [x["model"] for x in rows][:2] == ["local-chat", "baseline-always-a"]
    assert rows[0]["n_nonfinite"] == 8


def test_unreachable_chat_endpoint_fails_the_run(session):
    session.add(ScienceModel(slug="dead-chat", version="0.1.0", name="dead", domain="general", task_kind="chat",
                             adapter="openai", adapter_config={"base_url": "http://127.0.0.1:9/v1", "timeout_s": 2}))
    session.flush()
    r = service.run(session, USER, "si-prefix-mc", "dead-chat")
    assert r.status == "failed" and r.scores == {} and "URLError" in r.error
