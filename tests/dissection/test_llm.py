"""The LLM writer against a stand-in OpenAI-compatible server on 127.0.0.1 (never the network)."""

import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from speechneurons.dissection.llm import LLMEndpointError, LLMWriter, build_messages, cache_key, llm_descriptions
from tests.helpers.dissection import llm_settings as default_llm_settings


class StandIn(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body))
        user = body["messages"][-1]["content"]
        ok = (
            self.path == "/v1/chat/completions"
            and body["model"] == "tiny"
            and body["seed"] == 7
            and body["messages"][0]["content"].startswith("Here are descriptions of some speech segments")
            and "activate it most:\n1. AA (vowel)" in user
            and "activate it least:\n1. S (unvoiced" in user
        )
        if not ok:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"error": "unexpected prompt"}')
            return
        answer = {"choices": [{"message": {"role": "assistant", "content": '"fires on vowels; silent on S"\nmore'}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class LocalServer(ThreadingHTTPServer):
    def server_bind(self):  # HTTPServer.server_bind would look up the host name (slow offline)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


@pytest.fixture
def server():
    StandIn.requests = []
    httpd = LocalServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def llm_settings(base_url, **kw):
    values = {"base_url": base_url, "model": "tiny", "seed": 7, "temperature": 0.0, "timeout_s": 5, **kw}
    return default_llm_settings(**values)


def test_answers_are_asked_once_and_cached(server, tmp_path):
    writer = LLMWriter(llm_settings(server), tmp_path / "cache")
    captions = ["AA (vowel) in 'FATHER'", "S (unvoiced consonant) in 'SEE'"]
    out = llm_descriptions(writer, 3, "phone", captions, [[0], [0]], [[1], [1]])
    assert out[0] == "fires on vowels; silent on S"
    assert len(StandIn.requests) == 2 and (writer.asked, writer.cached) == (2, 0)
    sent = StandIn.requests[0][1]
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 128
    assert "Neuron 0 of layer 3" in sent["messages"][1]["content"]
    rerun = LLMWriter(llm_settings(server), tmp_path / "cache")
    assert llm_descriptions(rerun, 3, "phone", captions, [[0], [0]], [[1], [1]]) == out
    assert len(StandIn.requests) == 2 and (rerun.asked, rerun.cached) == (0, 2)
    record = json.loads(next((tmp_path / "cache").rglob("*.json")).read_text())
    assert record["seed"] == 7 and record["model"] == "tiny" and record["answer"] == out[0]
    # another seed is another question
    other = LLMWriter(llm_settings(server, seed=8), tmp_path / "cache")
    with pytest.raises(LLMEndpointError, match="HTTP 400"):
        llm_descriptions(other, 3, "phone", captions, [[0]], [[1]])


def test_cache_key_depends_on_prompt_model_seed_temperature():
    m = build_messages(1, 2, "phone", ["a"], ["b"])
    keys = {
        cache_key(m, "x", 0, 0.0),
        cache_key(m, "y", 0, 0.0),
        cache_key(m, "x", 1, 0.0),
        cache_key(m, "x", 0, 1.0),
        cache_key(build_messages(1, 3, "phone", ["a"], ["b"]), "x", 0, 0.0),
    }
    assert len(keys) == 5 and cache_key(m, "x", 0, 0.0) == cache_key(m, "x", 0, 0.0)


def test_unreachable_endpoint_names_the_url_and_the_fix(tmp_path):
    with socket.socket() as s:  # a free port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    writer = LLMWriter(llm_settings(url, timeout_s=2), tmp_path)
    with pytest.raises(LLMEndpointError) as err:
        writer.complete(build_messages(1, 0, "phone", ["a"], ["b"]))
    msg = str(err.value)
    assert f"{url}/chat/completions" in msg and "llama-server" in msg and "writer: template" in msg
    assert not list(tmp_path.rglob("*.json"))


def test_no_endpoint_configured_is_refused_before_any_request(tmp_path):
    with pytest.raises(LLMEndpointError, match="base_url is empty"):
        LLMWriter(default_llm_settings(), tmp_path)
