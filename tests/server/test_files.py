"""pdit's file API: listing and atomic saves confined to root_dir, its token header, the watchers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import resource
import stat
import threading

import pytest

from pdit_gateway.errors import FileAccessError, FileMissingError, PathOutsideRootError
from pdit_gateway.files import FileService, FileWatchers
from pdit_gateway.pytest_plugin import SOCKET_WAIT

NO_AUTH = {"Authorization": ""}


@pytest.fixture
def token(jp_serverapp):
    return jp_serverapp.identity_provider.token


def _tree(root):
    files = {
        "zeta.py": "",
        "Alpha.py": "",
        "pkg/beta.py": "",
        "pkg/deep/alpha.py": "",
        "notes.txt": "",
        ".hidden.py": "",
        ".git/hook.py": "",
        ".venv/lib/site.py": "",
        "venv/lib/x.py": "",
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/y.py": "",
        "node_modules/pkg/z.py": "",
        "pkg/__pycache__/beta.py": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


async def test_list_files_skips_hidden_and_environments_sorted_by_name(
    jp_fetch, jp_root_dir, token
):
    _tree(jp_root_dir)
    outside = jp_root_dir.parent / "outside"
    outside.mkdir()
    (outside / "linked.py").write_text("")
    (jp_root_dir / "linkdir").symlink_to(outside, target_is_directory=True)
    (jp_root_dir / "escape.py").symlink_to(outside / "linked.py")
    response = await jp_fetch("api", "list-files", headers={**NO_AUTH, "X-PDIT-Token": token})
    assert json.loads(response.body) == {
        "files": ["Alpha.py", "pkg/deep/alpha.py", "pkg/beta.py", "zeta.py"]
    }


async def test_list_files_needs_the_token(jp_fetch, token):
    for headers in (NO_AUTH, {**NO_AUTH, "X-PDIT-Token": "wrong"}):
        response = await jp_fetch("api", "list-files", headers=headers, raise_error=False)
        assert response.code == 403
    # jupyter_server's own forms still work
    response = await jp_fetch("api", "list-files")
    assert response.code == 200
    response = await jp_fetch("api", "list-files", headers=NO_AUTH, params={"token": token})
    assert response.code == 200


async def _save(jp_fetch, body, headers):
    return await jp_fetch(
        "api", "save-file", method="POST", body=json.dumps(body), headers=headers, raise_error=False
    )


async def test_save_file_is_atomic_and_keeps_the_mode(jp_fetch, jp_root_dir, token):
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    script = jp_root_dir / "script.py"
    script.write_text("old = 1\n")
    script.chmod(0o640)
    before = script.stat().st_ino
    response = await _save(jp_fetch, {"path": "script.py", "content": "new = 2\n"}, headers)
    assert response.code == 200 and json.loads(response.body) == {"status": "ok"}
    assert script.read_text() == "new = 2\n"
    assert script.stat().st_ino != before  # replaced by rename, not rewritten in place
    assert stat.S_IMODE(script.stat().st_mode) == 0o640
    # a new file in a sub folder, text kept byte for byte
    (jp_root_dir / "sub").mkdir()
    text = "s = 'é ✓'\r\nx = 1"
    response = await _save(jp_fetch, {"path": "sub/new.py", "content": text}, headers)
    assert response.code == 200
    assert (jp_root_dir / "sub" / "new.py").read_bytes() == text.encode("utf-8")
    assert sorted(os.listdir(jp_root_dir)) == ["script.py", "sub"]  # no temporary file left


async def test_save_file_outside_the_root_is_refused_and_nothing_written(
    jp_fetch, jp_root_dir, token
):
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    outside = jp_root_dir.parent / "outside"
    outside.mkdir()
    (outside / "target.py").write_text("untouched\n")
    (jp_root_dir / "linkdir").symlink_to(outside, target_is_directory=True)
    (jp_root_dir / "link.py").symlink_to(outside / "target.py")
    for path in (
        str(outside / "new.py"),
        "../outside/new.py",
        "sub/../../outside/new.py",
        "linkdir/new.py",
        "link.py",
    ):
        response = await _save(jp_fetch, {"path": path, "content": "x"}, headers)
        assert response.code == 403, path
    assert sorted(os.listdir(outside)) == ["target.py"]
    assert (outside / "target.py").read_text() == "untouched\n"
    assert sorted(os.listdir(jp_root_dir)) == ["link.py", "linkdir"]


async def test_save_file_bad_requests(jp_fetch, jp_root_dir, token):
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    (jp_root_dir / "folder").mkdir()
    cases = [
        ({"path": "missing/x.py", "content": ""}, 404),
        ({"path": "folder", "content": ""}, 400),
        ({"path": "", "content": ""}, 400),
        ({"path": "x.py"}, 400),
        (["x.py", ""], 400),
    ]
    for body, code in cases:
        response = await _save(jp_fetch, body, headers)
        assert response.code == code, body
    assert sorted(os.listdir(jp_root_dir)) == ["folder"]


async def test_save_file_needs_the_token_and_cookies_need_xsrf(jp_fetch, jp_root_dir, token):
    body = {"path": "x.py", "content": "x"}
    assert (await _save(jp_fetch, body, NO_AUTH)).code == 403
    assert (await _save(jp_fetch, body, {**NO_AUTH, "X-PDIT-Token": "wrong"})).code == 403
    # a login cookie alone (as a browser sends it cross-site) does not pass the XSRF check
    login = await jp_fetch("api", "list-files", headers=NO_AUTH, params={"token": token})
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert cookies
    assert (await _save(jp_fetch, body, {**NO_AUTH, "Cookie": cookies})).code == 403
    assert not (jp_root_dir / "x.py").exists()
    # the token header, as pdit sends it, is a token-authenticated request: no XSRF needed
    assert (await _save(jp_fetch, body, {"Cookie": cookies, "X-PDIT-Token": token})).code == 200
    assert (jp_root_dir / "x.py").read_text() == "x"


# -- FileService and FileWatchers, without a server ------------------------------------------------


def test_resolve_confines_paths(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "out").symlink_to(tmp_path / "out", target_is_directory=True)
    (root / "inner").symlink_to(root / "a", target_is_directory=True)
    service = FileService(root, FileWatchers(logging.getLogger("test")))
    assert service.resolve("a/x.py") == (root / "a" / "x.py").resolve()
    assert service.resolve("inner/x.py") == (root / "a" / "x.py").resolve()
    assert service.relative(service.resolve("a/x.py")) == "a/x.py"
    for path in ("/etc/passwd", "../x.py", "a/../../x.py", "a\\..\\..\\x.py", "out/x.py"):
        with pytest.raises(PathOutsideRootError):
            service.resolve(path)
    for path in ("", "  ", "a\x00b"):
        with pytest.raises(FileAccessError):
            service.resolve(path)
    with pytest.raises(FileMissingError):
        service.read("a/none.py")


async def test_watchers_share_one_watcher_per_file_and_stop_with_the_last(tmp_path):
    path = (tmp_path / "w.py").resolve()
    path.write_text("1\n")
    watchers = FileWatchers(logging.getLogger("test"))
    seen: dict[str, asyncio.Queue] = {"a": asyncio.Queue(), "b": asyncio.Queue()}

    def listener(name):
        return lambda event: seen[name].put_nowait((event.kind, event.content))

    a, b = listener("a"), listener("b")
    watchers.subscribe(path, a)
    watchers.subscribe(path, b)
    assert watchers.watching() == {path: 2} and watchers.running == 1
    path.write_text("2\n")
    for name in ("a", "b"):
        assert await asyncio.wait_for(seen[name].get(), 10) == ("fileChanged", "2\n")
    watchers.unsubscribe(path, a)
    assert watchers.watching() == {path: 1} and watchers.running == 1
    path.unlink()
    assert await asyncio.wait_for(seen["b"].get(), 10) == ("fileDeleted", None)
    path.write_text("back\n")
    assert await asyncio.wait_for(seen["b"].get(), 10) == ("fileChanged", "back\n")
    assert seen["a"].empty()
    watchers.unsubscribe(path, b)
    assert watchers.watching() == {}
    await asyncio.wait_for(watchers.wait_until(lambda w: w.running == 0), 10)
    await watchers.close()


# -- issue 13: files off the event loop, confined under races, watchers per folder --------------

MAX_FILE_BYTES = 64 * 1024


@pytest.fixture
def pdit_config():
    return {"max_file_bytes": MAX_FILE_BYTES, "file_poll_interval": 0.05}


class _PditSocket:
    """pdit's socket, as a test sees it: every wait is bounded."""

    def __init__(self, connection):
        self.connection = connection

    async def send(self, **frame):
        await self.connection.write_message(json.dumps(frame))

    async def recv(self, timeout=SOCKET_WAIT):
        message = await asyncio.wait_for(self.connection.read_message(), timeout)
        assert message is not None, f"the socket closed (code {self.connection.close_code})"
        return json.loads(message)

    async def until(self, predicate, wait=SOCKET_WAIT):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = []
        while True:
            seen.append(await self.recv(max(0.0, deadline - loop.time())))
            if predicate(seen[-1]):
                return seen


@pytest.fixture
def pdit_ws(jp_ws_fetch):
    async def open_socket(session_id):
        return _PditSocket(await jp_ws_fetch("ws", "session", params={"sessionId": session_id}))

    return open_socket


async def test_watch_of_a_fifo_is_refused_and_the_server_goes_on(pdit_ws, jp_fetch, jp_root_dir):
    fifo = jp_root_dir / "pipe.py"
    os.mkfifo(fifo)

    # Were the server to open the FIFO on its event loop it would wait there for a writer
    # for ever, this test with it: this timer opens the other end after SOCKET_WAIT, so a
    # regression fails (an 'initial' with empty content) instead of hanging.
    def unblock():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(SOCKET_WAIT, unblock)
    timer.start()
    try:
        ws = await pdit_ws("fifo")
        await ws.send(type="watch", path="pipe.py")
        message = await ws.recv()
        assert (message["type"], message["code"]) == ("error", "not-a-file"), message
        # the socket and the server are alive
        (jp_root_dir / "ok.py").write_text("ok = 1\n")
        await ws.send(type="watch", path="ok.py")
        assert (await ws.recv())["content"] == "ok = 1\n"
        response = await jp_fetch("api", "list-files")
        assert json.loads(response.body)["files"] == ["ok.py", "pipe.py"]
    finally:
        timer.cancel()


async def test_files_over_max_file_bytes_are_neither_read_nor_saved(
    pdit_ws, jp_fetch, jp_root_dir, token
):
    big = jp_root_dir / "big.py"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    ws = await pdit_ws("too-large")
    await ws.send(type="watch", path="big.py")
    message = await ws.recv()
    assert (message["type"], message["code"]) == ("error", "file-too-large"), message
    # a watched file that grows past the limit is reported, not sent
    small = jp_root_dir / "small.py"
    small.write_text("s = 1\n")
    await ws.send(type="watch", path="small.py")
    assert (await ws.recv())["type"] == "initial"
    small.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    grown = await ws.until(lambda m: m["type"] == "error")
    assert grown[-1]["code"] == "file-too-large", grown
    # (a read between the truncation and the write may have seen a shorter text first)
    assert all(len(m.get("content", "")) <= MAX_FILE_BYTES for m in grown)
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    body = {"path": "new.py", "content": "#" * (MAX_FILE_BYTES + 1)}
    response = await _save(jp_fetch, body, headers)
    assert response.code == 413
    assert json.loads(response.body)["code"] == "file-too-large"
    assert not (jp_root_dir / "new.py").exists()


async def test_save_never_writes_outside_while_a_folder_is_swapped_for_a_link(
    jp_fetch, jp_root_dir, token
):
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    outside = jp_root_dir.parent / "outside"
    outside.mkdir()
    folder, link = jp_root_dir / "d", jp_root_dir / "d.link"
    folder.mkdir()
    link.symlink_to(outside, target_is_directory=True)
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    stop = threading.Event()
    swaps = 0

    def swap():
        # renameat2(RENAME_EXCHANGE): 'd' is a folder and a link out of the root in turn
        nonlocal swaps
        while not stop.is_set():
            code = libc.renameat2(at_fdcwd, bytes(folder), at_fdcwd, bytes(link), rename_exchange)
            assert code == 0, os.strerror(ctypes.get_errno())
            swaps += 1

    swapper = threading.Thread(target=swap)
    swapper.start()
    codes = []
    try:
        for i in range(300):
            response = await _save(jp_fetch, {"path": "d/x.py", "content": f"{i}\n"}, headers)
            codes.append(response.code)
    finally:
        stop.set()
        swapper.join(SOCKET_WAIT)
    assert swaps > 0 and set(codes) <= {200, 400, 403, 404}, set(codes)
    assert os.listdir(outside) == []  # nothing written outside, no temporary file either
    assert sorted(os.listdir(jp_root_dir)) == ["d", "d.link"]
    real = folder if folder.is_dir() and not folder.is_symlink() else link
    assert os.listdir(real) == (["x.py"] if 200 in codes else [])  # no temporary file left


async def test_watch_does_not_follow_a_later_link_out_of_the_root(pdit_ws, jp_root_dir):
    outside = jp_root_dir.parent / "secret.py"
    outside.write_text("secret = 's3cr3t'\n")
    script = jp_root_dir / "w.py"
    script.write_text("w = 1\n")
    ws = await pdit_ws("swap-watch")
    await ws.send(type="watch", path="w.py")
    assert (await ws.recv())["content"] == "w = 1\n"
    link = jp_root_dir / "link.tmp"
    link.symlink_to(outside)
    os.replace(link, script)  # w.py is now a link out of the root
    messages = await ws.until(lambda m: m["type"] != "initial")
    assert "s3cr3t" not in json.dumps(messages)
    assert (messages[-1]["type"], messages[-1]["code"]) == ("error", "forbidden-path"), messages
    # a file that comes back inside is followed again
    script.unlink()
    script.write_text("w = 2\n")
    back = await ws.until(lambda m: m["type"] == "fileChanged")
    assert back[-1]["content"] == "w = 2\n"
    assert "s3cr3t" not in json.dumps(back)


async def test_save_goes_through_the_contents_manager(jp_fetch, jp_serverapp, jp_root_dir, token):
    headers = {**NO_AUTH, "X-PDIT-Token": token}
    manager = jp_serverapp.contents_manager
    seen = []

    def pre_save(model, path, contents_manager, **kwargs):
        seen.append(("pre", path))
        model["content"] = model["content"] + "# checked\n"

    def post_save(model, os_path, contents_manager, **kwargs):
        seen.append(("post", model["path"], os_path))

    manager.register_pre_save_hook(pre_save)
    manager.register_post_save_hook(post_save)
    # pdit's client sends absolute paths: one inside the root is inside it
    absolute = str(jp_root_dir / "abs.py")
    response = await _save(jp_fetch, {"path": absolute, "content": "a = 1\n"}, headers)
    assert response.code == 200, response.body
    real = (jp_root_dir / "abs.py").resolve()
    assert real.read_text() == "a = 1\n# checked\n"
    assert seen == [("pre", "abs.py"), ("post", "abs.py", str(real))]
    # hidden files and folders follow the manager's allow_hidden (off by default)
    (jp_root_dir / ".config").mkdir()
    for path in (".secret.py", ".config/x.py", str(jp_root_dir / ".secret.py")):
        response = await _save(jp_fetch, {"path": path, "content": "h = 1\n"}, headers)
        assert response.code == 403, path
        assert json.loads(response.body)["code"] == "hidden-path"
    assert not (jp_root_dir / ".secret.py").exists()
    assert not (jp_root_dir / ".config" / "x.py").exists()
    manager.allow_hidden = True
    response = await _save(jp_fetch, {"path": ".secret.py", "content": "h = 1\n"}, headers)
    assert response.code == 200
    assert (jp_root_dir / ".secret.py").read_text() == "h = 1\n# checked\n"


async def test_absolute_paths_inside_the_root_are_watched(pdit_ws, jp_root_dir):
    (jp_root_dir / "sub").mkdir()
    (jp_root_dir / "sub" / "a.py").write_text("a = 1\n")
    ws = await pdit_ws("absolute")
    absolute = str(jp_root_dir / "sub" / "a.py")
    await ws.send(type="watch", path=absolute)
    initial = await ws.recv()
    assert (initial["type"], initial["path"], initial["content"]) == (
        "initial",
        absolute,
        "a = 1\n",
    )
    await ws.send(type="watch", path=str(jp_root_dir.parent / "elsewhere.py"))
    refused = await ws.recv()
    assert (refused["type"], refused["code"]) == ("error", "forbidden-path")
    assert "not a path inside" not in refused["message"]


async def test_a_5000_character_name_is_a_bad_request(pdit_ws, jp_fetch, jp_root_dir, token):
    name = "n" * 5000 + ".py"
    response = await _save(
        jp_fetch, {"path": name, "content": "x"}, {**NO_AUTH, "X-PDIT-Token": token}
    )
    assert response.code == 400
    assert json.loads(response.body)["code"] == "invalid-path"
    ws = await pdit_ws("long-name")
    await ws.send(type="watch", path=f"sub/{name}")
    message = await ws.recv()
    assert (message["type"], message["code"]) == ("error", "invalid-path"), message
    assert len(message["message"]) < 300
    assert os.listdir(jp_root_dir) == []


def _inotify_instances() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
    return count


async def test_one_inotify_instance_per_folder_not_per_file(tmp_path):
    folders = [tmp_path / "a", tmp_path / "b"]
    paths = []
    for folder in folders:
        folder.mkdir()
        for i in range(20):
            path = (folder / f"f{i}.py").resolve()
            path.write_text("0\n")
            paths.append(path)
    watchers = FileWatchers(logging.getLogger("test"))
    events: asyncio.Queue = asyncio.Queue()
    before = _inotify_instances()
    try:
        for path in paths:
            watchers.subscribe(path, lambda *args, path=path: events.put_nowait((path, args)))
        # a change to each file is reported: every watcher runs
        for path in paths:
            path.write_text("1\n")
        changed = set()
        while len(changed) < len(paths):
            path, _args = await asyncio.wait_for(events.get(), SOCKET_WAIT)
            changed.add(path)
        assert _inotify_instances() - before == len(folders)
    finally:
        await watchers.close()
    assert _inotify_instances() == before


async def test_watchers_poll_a_folder_when_notifications_cannot_be_had(tmp_path):
    """Without a free file descriptor, inotify_init fails as past inotify's instance limit."""
    path = (tmp_path / "p.py").resolve()
    path.write_text("0\n")
    watchers = FileWatchers(logging.getLogger("test"), poll_interval=0.05)
    events: asyncio.Queue = asyncio.Queue()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers = []
    try:
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
        with contextlib.suppress(OSError):
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        watchers.subscribe(path, events.put_nowait, content="0\n")
        await asyncio.wait_for(
            watchers.wait_until(lambda w: w.modes().get(path.parent) != "starting"), SOCKET_WAIT
        )
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert watchers.modes() == {path.parent: "polling"}
        path.write_text("1\n")
        event = await asyncio.wait_for(events.get(), SOCKET_WAIT)
        if event.content == "":  # a look between the truncation and the write
            event = await asyncio.wait_for(events.get(), SOCKET_WAIT)
        assert (event.kind, event.content) == ("fileChanged", "1\n")
    finally:
        await watchers.close()


async def test_a_folder_that_cannot_be_watched_is_an_error_to_its_listeners(tmp_path):
    path = tmp_path / "gone" / "deeper" / "x.py"  # neither folder exists
    watchers = FileWatchers(logging.getLogger("test"))
    events: asyncio.Queue = asyncio.Queue()
    watchers.subscribe(path, events.put_nowait)
    event = await asyncio.wait_for(events.get(), SOCKET_WAIT)
    assert (event.kind, event.code) == ("error", "watch-unavailable")
    await asyncio.wait_for(watchers.wait_until(lambda w: not w.watching() and not w.running), 10)
    await watchers.close()


async def test_a_watched_folder_that_is_removed_ends_its_watches_with_an_error(tmp_path):
    folder = (tmp_path / "sub").resolve()
    folder.mkdir()
    path = folder / "x.py"
    path.write_text("x\n")
    watchers = FileWatchers(logging.getLogger("test"), ready_check=0.1)
    events: asyncio.Queue = asyncio.Queue()
    watchers.subscribe(path, events.put_nowait, content="x\n")
    try:
        await asyncio.wait_for(
            watchers.wait_until(lambda w: w.modes().get(folder) == "notify"), SOCKET_WAIT
        )
        path.unlink()
        folder.rmdir()
        folder.symlink_to(tmp_path, target_is_directory=True)  # a link where it was
        deleted = await asyncio.wait_for(events.get(), SOCKET_WAIT)
        assert deleted.kind == "fileDeleted"
        ended = await asyncio.wait_for(events.get(), SOCKET_WAIT)
        assert (ended.kind, ended.code) == ("error", "watch-unavailable")
        await asyncio.wait_for(watchers.wait_until(lambda w: not w.watching()), SOCKET_WAIT)
    finally:
        await watchers.close()
