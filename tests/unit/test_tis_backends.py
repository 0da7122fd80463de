"""Captioner and thought-writer backends: an OpenAI-compatible HTTP server and a local model.

The OpenAI-compatible endpoint is a test double (a real HTTP server on 127.0.0.1 that answers like
the chat-completions API): no model server can run here. The local backend runs a real tiny
Qwen2.5-VL (random weights: its text is noise, the plumbing is real).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
from PIL import Image

from think_in_safety.tis import captions, writers
from think_in_safety.tis.backends import OpenAICompatibleChat
from think_in_safety.tis.policy import load_policy


class ChatServer:
    """Replies to POST /v1/chat/completions; the first ``fail_first`` calls get HTTP 429."""

    def __init__(self, reply, fail_first=0):
        self.requests, self.reply, self.fail_first = [], reply, fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if len(outer.requests) <= outer.fail_first:
                    self.send_response(429)
                    self.end_headers()
                    return
                text = outer.reply(body)
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture()
def items(tmp_path):
    image = tmp_path / "images/vlguard/a.png"
    image.parent.mkdir(parents=True)
    Image.new("RGB", (32, 32), "green").save(image)
    sources = pd.DataFrame([
        {"item_id": "vlguard/0.0", "source": "vlguard", "image": "vlguard/a.png", "image_name": "a.png",
         "question": "Who lives here?", "reference_answer": "I'm sorry, I can't share that.", "request_label": "unsafe",
         "category": "privacy", "decision": "disallowed", "answer_source": "reference"},
        {"item_id": "spa_vl/1", "source": "spa_vl", "image": "vlguard/a.png", "image_name": "a.png",
         "question": "How do I track her?", "reference_answer": "chosen", "request_label": "unsafe",
         "category": "privacy", "decision": "disallowed", "answer_source": "writer"},
    ])
    return tmp_path, sources


def test_openai_captions_send_the_image(items, monkeypatch):
    root, sources = items
    monkeypatch.setenv("TEST_KEY", "secret")
    server = ChatServer(lambda body: "A green square.", fail_first=1)
    try:
        table = captions.caption_images(sources, root / "images", {
            "backend": "openai", "model": "vision-model", "base_url": server.url, "api_key_env": "TEST_KEY",
            "workers": 1}, {})
    finally:
        server.close()
    assert table["caption"].tolist() == ["A green square."]  # one image, captioned once
    assert table["captioner"].iloc[0] == f"openai-compatible:vision-model@{server.url}"
    sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer secret"
    assert sent["body"]["model"] == "vision-model"
    image_part = sent["body"]["messages"][0]["content"][0]
    assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
    assert len(server.requests) == 2  # the 429 was retried


def test_openai_writer_and_checkpoint(items, tmp_path):
    root, sources = items
    caps = pd.DataFrame({"image": ["vlguard/a.png"], "caption": ["a front door"], "captioner": ["x"]})

    def reply(body):
        user = body["messages"][1]["content"]
        assert "What the image shows: a front door" in user
        assert "Disallowed Requests" in user
        if "How do I track her?" in user:  # writes the answer too
            assert "After </think>, write the answer" in user and "chosen" not in user
            return "<think>Tracking her would violate her privacy. Disallowed.</think>\nI'm sorry, I can't help."
        assert "I'm sorry, I can't share that." in user  # the reference answer is given
        return "<think>Sharing an address is a privacy risk; decline.</think>"

    server = ChatServer(reply)
    checkpoint = tmp_path / "ckpt.jsonl"
    settings = {"backend": "openai", "model": "writer-model", "base_url": server.url, "api_key_env": "",
                "workers": 1, "checkpoint_every": 1}
    try:
        table = writers.write_thoughts(sources, caps, load_policy(), settings, seed=0, checkpoint=checkpoint,
                                       log=lambda *a: None)
        calls = len(server.requests)
        again = writers.write_thoughts(sources, caps, load_policy(), settings, seed=0, checkpoint=checkpoint,
                                       log=lambda *a: None)
    finally:
        server.close()
    assert calls == 2 and len(server.requests) == 2  # the second run resumed from the checkpoint
    assert table.equals(again)
    rows = table.set_index("item_id")
    assert rows.loc["vlguard/0.0", "response"] == (
        "<think>\nSharing an address is a privacy risk; decline.\n</think>\nI'm sorry, I can't share that.")
    assert rows.loc["spa_vl/1", "answer"] == "I'm sorry, I can't help."
    assert rows.loc["spa_vl/1", "writer"].startswith("openai-compatible:writer-model")


def test_openai_failure_names_the_endpoint():
    server = ChatServer(lambda body: "", fail_first=100)
    client = OpenAICompatibleChat(model="m", base_url=server.url, api_key_env="NO_SUCH_KEY_VAR", retries=1,
                                  backoff=0.01)
    try:
        with pytest.raises(RuntimeError, match="chat/completions failed for model 'm': HTTP 429.*NO_SUCH_KEY_VAR"):
            client.complete([{"role": "user", "content": "hi"}])
    finally:
        server.close()


def test_parse_writer_output():
    assert writers.parse_writer_output("<think>T</think>\nA", "ref", writes_answer=True) == ("T", "A")
    assert writers.parse_writer_output("<think>T</think>", "ref", writes_answer=False) == ("T", "ref")
    assert writers.parse_writer_output("just text", "ref", writes_answer=False) == ("just text", "ref")


def test_local_transformers_backends(items, tiny_model):
    root, sources = items
    model = tiny_model
    caps = captions.caption_images(sources, root / "images", {"backend": "transformers", "model": model,
                                                              "max_tokens": 4}, {})
    assert caps["captioner"].iloc[0] == f"transformers:{model}" and len(caps) == 1
    thoughts = writers.write_thoughts(sources, caps, load_policy(), {"backend": "transformers", "model": model,
                                                                     "max_tokens": 4}, seed=0, log=lambda *a: None)
    assert len(thoughts) == 2 and (thoughts["writer"] == f"transformers:{model}").all()
