"""`engagebot dashboard-local`: what the demo prints to browse its data. The dashboard alone on 127.0.0.1 (no Slack,
no Teams, no scheduler), signed in with the single-use link it prints, under the same rules as `serve`."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from adapters.demo.run import run_demo
from bot.config import load_settings
from tests.cli_support import one_line_error
from tests.dashboard.site import CSRF
from tests.serving import ROOT, free_port

LINK = re.compile(r"http://127\.0\.0\.1:\d+/dashboard/login/[A-Za-z0-9_-]{43}")


async def test_the_demo_prints_how_to_browse_its_data_and_that_command_works(workdir: Path, capsys):
    assert await run_demo(load_settings({}, cwd=workdir), workdir / "demo.db", weeks=1, seed=48) == 0
    printed = capsys.readouterr().out
    (command,) = [line.strip() for line in printed.splitlines() if "dashboard-local" in line]
    assert command == f".venv/bin/engagebot dashboard-local --db {workdir / 'demo.db'} --as slack:UDEMOADMIN"

    port = free_port()
    args = [*command.split()[1:], "--port", str(port)]
    env = {"PATH": os.environ.get("PATH", ""), "NO_PROXY": "127.0.0.1", "LOG_LEVEL": "ERROR"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), *args, cwd=workdir, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        output = ""
        while not LINK.search(output):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, output
            output += line.decode()
        link = LINK.search(output)[0]  # type: ignore[index]
        assert f"http://127.0.0.1:{port}/dashboard/login/" in link
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[f"http://127.0.0.1:{port}"])
        ) as http:
            async with http.get(link) as response:
                assert response.status == 200
                csrf = CSRF.findall(await response.text())[0]
            async with http.post(link, data={"csrf": csrf}) as response:
                assert response.status == 200  # followed the 303 to the overview
                assert str(response.url) == f"http://127.0.0.1:{port}/dashboard/"
                assert 'class="tiles"' in await response.text()
            for path in ("/slack/events", "/api/messages", "/healthz"):
                async with http.post(f"http://127.0.0.1:{port}{path}", data="{}") as response:
                    assert response.status == 404, path  # it cannot capture, post or be mistaken for serve
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0


def test_it_needs_an_existing_database_and_an_admin_to_sign_in(workdir: Path, capsys):
    assert "no database" in one_line_error(
        capsys, "dashboard-local", "--db", str(workdir / "none.db"), "--as", "slack:U1"
    )
    (workdir / "x.db").write_bytes(b"")
    assert "give --as MEMBER" in one_line_error(capsys, "dashboard-local", "--db", str(workdir / "x.db"))
    assert "--as: 'nobody'" in one_line_error(
        capsys, "dashboard-local", "--db", str(workdir / "x.db"), "--as", "nobody"
    )
