"""pdit's file API: listing and atomic saves confined to root_dir, its token header, the watchers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat

import pytest

from pdit_gateway.errors import FileAccessError, FileMissingError, PathOutsideRootError
from pdit_gateway.files import FileService, FileWatchers

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
        str(jp_root_dir / "inside-but-absolute.py"),
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
        return lambda kind, content: seen[name].put_nowait((kind, content))

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
