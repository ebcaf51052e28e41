"""The state store: the local folder and S3 (a real moto server) behave alike."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests

from shared import state
from shared.config import Settings
from shared.errors import BadResponse, InvalidInput, PluginError, Unavailable
from shared.state import open_store, read_dataref, store_for_dataref
from shared.state.local import LocalStore
from tests.processes import ROOT, base_env, free_port

BUCKET = "nutanix-state"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "s3cr3t-not-shown",
               "AWS_DEFAULT_REGION": "us-east-1"}
BAD_KEYS = ["", "/abs/key", "../up", "a/../b", "a//b", "./a", "a/.hidden", ".tmp", "a\\b",
            "a\x00b", "a\nb", "x" * 1000, "a/" + "y" * 201]
TRICKY_KEYS = ["b", "a/x", "a-b", "a.c", "a/b/c", "a/b-c", "ab", "a/b/d", "z/ä", "A"]


def start_moto(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """A real S3 API on a free port (moto's server), polled until it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                             "-p", str(port)], cwd=ROOT, env=base_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return proc, url
        except requests.ConnectionError:
            if proc.poll() is not None:
                raise RuntimeError("moto server exited early") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto server did not answer")


@pytest.fixture(scope="module")
def moto_url():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        proc, url = start_moto()
        try:
            import boto3

            boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(
                Bucket=BUCKET)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store((tmp_path / "store").as_uri())
    url = request.getfixturevalue("moto_url")
    prefix = f"t/{uuid.uuid4().hex}"
    return open_store(f"s3://{BUCKET}/{prefix}", endpoint_url=url, region="us-east-1")


def test_put_get_delete_round_trip(store):
    assert store.get("a/b.json") is None
    store.put("a/b.json", b"one")
    store.put("a/b.json", b"two")  # overwrite
    assert store.get("a/b.json") == b"two"
    store.delete("a/b.json")
    store.delete("a/b.json")  # deletes are retried: missing is fine
    assert store.get("a/b.json") is None


def test_list_is_in_key_order_and_filters_by_prefix(store):
    for key in TRICKY_KEYS:
        store.put(key, key.encode())
    assert list(store.list()) == sorted(TRICKY_KEYS)
    assert list(store.list("a/")) == sorted(k for k in TRICKY_KEYS if k.startswith("a/"))
    assert list(store.list("a/b")) == ["a/b-c", "a/b/c", "a/b/d"]
    assert list(store.list("a")) == sorted(k for k in TRICKY_KEYS if k.startswith("a"))
    assert list(store.list("nothing/")) == []


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_keys_are_invalid_input(store, key):
    calls = [lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.delete(key)]
    if key:  # url("") is the store's root
        calls.append(lambda: store.url(key))
    for call in calls:
        with pytest.raises(InvalidInput):
            call()


def test_list_refuses_a_prefix_that_climbs(store):
    with pytest.raises(InvalidInput):
        list(store.list("../"))


def test_json_and_jsonl_gz_helpers(store):
    store.put_json("w/watermark.json", {"since": "2024-05-01T00:00:00Z", "ids": [1, 2]})
    assert store.get_json("w/watermark.json") == {"since": "2024-05-01T00:00:00Z",
                                                  "ids": [1, 2]}
    assert store.get_json("w/missing.json") is None
    records = [{"vm": f"vm-{i}", "vcpus": i % 8, "name": "ä"} for i in range(2000)]
    assert store.put_jsonl_gz("h/2024-05.jsonl.gz", iter(records)) == 2000
    assert list(store.iter_jsonl_gz("h/2024-05.jsonl.gz")) == records
    assert len(store.get("h/2024-05.jsonl.gz")) < len(repr(records)) // 5
    assert list(store.iter_jsonl_gz("h/missing.jsonl.gz")) == []
    store.put("h/broken.jsonl.gz", b"not gzip")
    with pytest.raises(BadResponse):
        list(store.iter_jsonl_gz("h/broken.jsonl.gz"))
    store.put("w/broken.json", b"{")
    with pytest.raises(BadResponse):
        store.get_json("w/broken.json")


def test_url_is_a_dataref_that_reads_back(store):
    key = "replies/2024-05-01/id with space.json"
    store.put(key, b'{"x":1}')
    url = store.url(key)
    assert url.startswith(("file:///", f"s3://{BUCKET}/t/"))
    assert store.key_for(url) == key
    assert read_dataref(url, store) == b'{"x":1}'


def test_read_dataref_refuses_what_lies_outside_the_store(store, tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes(b"{}")
    for url in (outside.as_uri(), f"s3://other-bucket/{quote('x.json')}",
                store.url("") + "../x.json", store.url("") + "a/../../x.json"):
        with pytest.raises(BadResponse):
            read_dataref(url, store)
    with pytest.raises(BadResponse, match="missing"):
        read_dataref(store.url("replies/none.json"), store)


# --- local folder only -----------------------------------------------------------------

def test_local_writes_are_atomic_for_concurrent_readers(tmp_path):
    store = LocalStore(tmp_path)
    old, new = b"A" * 2_000_000, b"B" * 2_000_000
    store.put("big.bin", old)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            data = store.get("big.bin")
            seen.add(data if data in (old, new) else b"torn")

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(30):
        store.put("big.bin", new if i % 2 == 0 else old)
    stop.set()
    reader.join()
    assert b"torn" not in seen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]  # no temp file left


def test_local_ignores_temporary_files_and_clashing_keys(tmp_path):
    store = LocalStore(tmp_path)
    store.put("a", b"1")
    (tmp_path / ".a.half.tmp").write_bytes(b"half")
    assert list(store.list()) == ["a"]
    with pytest.raises(InvalidInput, match="clashes"):
        store.put("a/b", b"2")
    store.put("c/d", b"3")
    with pytest.raises(InvalidInput, match="clashes"):
        store.put("c", b"4")
    assert store.get("c") is None


def test_local_missing_root_lists_nothing_and_is_created_on_put(tmp_path):
    store = open_store((tmp_path / "not" / "yet").as_uri())
    assert list(store.list()) == []
    store.put("k", b"v")
    assert (tmp_path / "not" / "yet" / "k").read_bytes() == b"v"


def test_local_unwritable_root_is_unavailable(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(Unavailable) as info:
            LocalStore(tmp_path).put("k", b"v")
        assert info.value.retryable
    finally:
        tmp_path.chmod(0o700)


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = open_store("file://./.state")
    assert relative.root == tmp_path / ".state"
    assert open_store(f"file://{tmp_path}/x").root == tmp_path / "x"
    assert open_store("file://localhost" + str(tmp_path)).root == tmp_path
    for bad in ("http://x", "/plain/path", "s3://", "s3:///prefix", "file://"):
        with pytest.raises(InvalidInput):
            open_store(bad)


def test_from_settings_opens_one_store_per_process(tmp_path):
    settings = Settings(state_url=tmp_path.as_uri())
    assert state.from_settings(settings) is state.from_settings(settings)


def test_store_for_dataref_opens_the_folder_it_names(tmp_path):
    store = LocalStore(tmp_path)
    store.put("replies/2024-05-01/e1.json", b'{"a":1}')
    url = store.url("replies/2024-05-01/e1.json")
    assert read_dataref(url, store_for_dataref(url)) == b'{"a":1}'
    for bad in ("nothing", "http://host/x.json", "file:///x.json"):
        with pytest.raises(BadResponse):
            store_for_dataref(bad)


def test_local_store_never_imports_boto3(tmp_path):
    code = f"""
import sys
from shared import state, events, adapter, invoke
store = state.open_store({tmp_path.as_uri()!r})
store.put_json("a/b.json", {{"x": 1}})
assert store.get_json("a/b.json") == {{"x": 1}}
assert list(store.list()) == ["a/b.json"]
lazy = state.lazy(lambda: state.open_store("s3://never-opened"))
assert not lazy.opened
mods = sorted(m for m in ("boto3", "botocore", "jsonschema") if m in sys.modules)
print(",".join(mods) or "none")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


# --- S3 only -------------------------------------------------------------------------

def test_s3_prefixes_keep_stores_apart(moto_url):
    one = open_store(f"s3://{BUCKET}/apart/one", endpoint_url=moto_url, region="us-east-1")
    two = open_store(f"s3://{BUCKET}/apart/one-two/", endpoint_url=moto_url,
                     region="us-east-1")
    one.put("k", b"1")
    two.put("k", b"2")
    assert list(one.list()) == ["k"]
    assert (one.get("k"), two.get("k")) == (b"1", b"2")
    assert one.url("k") == f"s3://{BUCKET}/apart/one/k"
    assert one.key_for(two.url("k")) is None


def test_s3_list_follows_every_page(moto_url):
    store = open_store(f"s3://{BUCKET}/many", endpoint_url=moto_url, region="us-east-1")
    store.page_size = 7
    keys = [f"k/{i:03d}" for i in range(30)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.put(key, b""), keys))
    assert list(store.list("k/")) == keys


def test_s3_unreachable_endpoint_is_unavailable_and_retryable(monkeypatch):
    from shared.state.s3 import S3Store

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    store = S3Store(BUCKET, "p", endpoint_url=f"http://127.0.0.1:{free_port()}",
                    region="us-east-1", attempts=1, connect_timeout_s=1)
    for call in (lambda: store.put("k", b"v"), lambda: store.get("k"),
                 lambda: list(store.list())):
        with pytest.raises(Unavailable) as info:
            call()
        assert info.value.retryable
        assert "s3cr3t" not in str(info.value)


def test_s3_missing_bucket_is_an_internal_error_naming_the_code(moto_url):
    store = open_store("s3://no-such-bucket/p", endpoint_url=moto_url, region="us-east-1")
    with pytest.raises(PluginError) as info:
        store.put("k", b"v")
    assert not info.value.retryable
    assert info.value.grpc_code == "INTERNAL"
    assert "NoSuchBucket" in str(info.value)
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(info.value)


def test_s3_dataref_reads_back_through_a_configured_store(moto_url):
    store = open_store(f"s3://{BUCKET}/refs", endpoint_url=moto_url, region="us-east-1")
    store.put("replies/2024-05-01/e.json", b'{"big":true}')
    url = store.url("replies/2024-05-01/e.json")
    assert url == f"s3://{BUCKET}/refs/replies/2024-05-01/e.json"
    assert read_dataref(url, store) == b'{"big":true}'
