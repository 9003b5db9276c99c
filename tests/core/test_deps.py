"""The request's database session commits before the response leaves: a client that is told "done" (or is
redirected after a log-in) must find the write on its next request."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from kechuang.core import deps


def test_request_session_commits_before_the_response_is_sent():
    events: list[str] = []
    app = FastAPI()

    @app.get("/probe")
    def probe(session: deps.DbSession):
        session.execute(text("SELECT 1"))
        event.listen(session, "after_commit", lambda _s: events.append("commit"))
        return {"ok": True}

    async def watched(scope, receive, send):
        async def send_(message):
            if message["type"] == "http.response.start":
                events.append("response")
            await send(message)

        await app(scope, receive, send_)

    with TestClient(watched) as client:
        assert client.get("/probe").json() == {"ok": True}
    assert events == ["commit", "response"]
